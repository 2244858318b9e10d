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

describe('the stored form of a factor event (issue #6: Redis memory per session)', () => {
  it('round-trips every factor compactly, amr derived as when it was recorded', async () => {
    const { amrForEvent } = await import('../src/stepup/index.js');
    const { decodeEvent, encodeEvent } = await import('../src/store/redis/session-events.js');
    const account = randomUUID();
    const events: Omit<StoredFactorEvent, 'amr'>[] = [
      { factor: 'password', at: 1 },
      { factor: 'totp', credentialId: randomUUID(), at: 2 },
      { factor: 'recovery_code', at: 3 },
      { factor: 'webauthn', credentialId: randomUUID(), at: 4, userVerified: true, backupEligible: false, attested: false },
      { factor: 'webauthn', credentialId: randomUUID(), at: 5, userVerified: false, backupEligible: true },
      { factor: 'webauthn', credentialId: randomUUID(), at: 6 },
    ];
    for (const e of events) {
      const event = { ...e, amr: amrForEvent(e) };
      const raw = encodeEvent(account, event);
      expect(decodeEvent(raw)).toEqual({ accountId: account, event });
      expect(raw.length).toBeLessThan(JSON.stringify({ accountId: account, event }).length);
    }
    // unknown BE stays unknown: never read back as device-bound (hwk)
    expect(decodeEvent(encodeEvent(account, { factor: 'webauthn', at: 7, amr: [] }))?.event.amr).toEqual(['swk', 'user']);
  });

  it('still reads entries written in the earlier object form', async () => {
    const { decodeEvent } = await import('../src/store/redis/session-events.js');
    const event: StoredFactorEvent = { factor: 'totp', credentialId: 'f1', at: 9, amr: ['otp'] };
    expect(decodeEvent(JSON.stringify({ accountId: 'alice', event }))).toEqual({ accountId: 'alice', event });
    const uid = randomUUID();
    await real.rpush(`${prefix}session-events:${uid}`, JSON.stringify({ accountId: 'alice', event }));
    const store = createSessionEventsStore(real, prefix, 600);
    await store.append(uid, 'alice', [{ factor: 'password', at: 10, amr: ['pwd'] }]);
    expect(await store.get(uid, 'alice')).toEqual([event, { factor: 'password', at: 10, amr: ['pwd'] }]);
  });
});
