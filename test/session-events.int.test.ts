import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import RedisMock from 'ioredis-mock';
import { createSessionEventsStore, type StoredFactorEvent } from '../src/store/redis/session-events.js';
import { TEST_REDIS_URL } from './support/env.js';

const real = new Redis(TEST_REDIS_URL);
const prefix = `stepup-test:${randomUUID()}:`;
afterAll(async () => {
  const keys = await real.keys(`${prefix}*`);
  if (keys.length) await real.del(...keys);
  real.disconnect();
});

const ev = (at: number, factor: StoredFactorEvent['factor'] = 'password'): StoredFactorEvent => ({ factor, at, amr: ['pwd'] });

describe.each([
  ['real Redis', real],
  ['in-process store', new (RedisMock as unknown as typeof Redis)()],
])('session factor events on %s', (_name, redis) => {
  const store = createSessionEventsStore(redis, prefix, 600);

  it('keeps events per session, for its own account only, oldest first', async () => {
    const uid = randomUUID();
    await store.append(uid, 'alice', [ev(20, 'totp')]);
    await store.append(uid, 'alice', [ev(10)]);
    await store.append(uid, 'mallory', [ev(30)]);
    expect((await store.get(uid, 'alice')).map((e) => e.at)).toEqual([10, 20]);
    expect((await store.get(uid, 'mallory')).map((e) => e.at)).toEqual([30]);
    expect(await redis.ttl(`${prefix}session-events:${uid}`)).toBeGreaterThan(500);
  });

  it('parallel appends all land (no lost update), bounded to the newest 16', async () => {
    const uid = randomUUID();
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.append(uid, 'bob', [ev(100 + i)])));
    expect(await store.get(uid, 'bob')).toHaveLength(10);
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.append(uid, 'bob', [ev(200 + i)])));
    const kept = await store.get(uid, 'bob');
    expect(kept).toHaveLength(16);
    expect(kept.at(-1)!.at).toBe(209);
  });

  it('counts a repeated verification once, and clear() removes everything', async () => {
    const uid = randomUUID();
    await store.append(uid, 'carol', [ev(5)]);
    await store.append(uid, 'carol', [ev(5)]);
    expect(await store.get(uid, 'carol')).toHaveLength(1);
    await store.clear(uid);
    expect(await store.get(uid, 'carol')).toEqual([]);
  });
});
