import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import RedisMock from 'ioredis-mock';
import { createAccountSessions } from '../src/store/redis/account-sessions.js';
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

  it('keeps events per session, oldest first, in the session uid hash beside the session id', async () => {
    const uid = randomUUID();
    const hash = `${prefix}oidc:session-uid:{${uid}}`;
    await redis.hset(hash, 'i', 'the-session-id'); // as the oidc adapter writes it
    await redis.expire(hash, 300);
    await store.append(uid, 'alice', [ev(20, 'totp')]);
    await store.append(uid, 'alice', [ev(10)]);
    expect((await store.get(uid, 'alice')).map((e) => e.at)).toEqual([10, 20]);
    expect(await redis.hget(hash, 'i')).toBe('the-session-id');
    // the session's TTL is kept (the adapter slides it); a hash created by an append gets the maximum
    expect(await redis.ttl(hash)).toBeLessThanOrEqual(300);
    const fresh = randomUUID();
    await store.append(fresh, 'alice', [ev(1)]);
    expect(await redis.ttl(`${prefix}oidc:session-uid:{${fresh}}`)).toBeGreaterThan(500);
  });

  it("reads events for their own account only; another account's events replace them", async () => {
    const uid = randomUUID();
    await store.append(uid, 'alice', [ev(10), ev(20, 'totp')]);
    expect(await store.get(uid, 'mallory')).toEqual([]);
    await store.append(uid, 'mallory', [ev(30)]);
    expect((await store.get(uid, 'mallory')).map((e) => e.at)).toEqual([30]);
    expect(await store.get(uid, 'alice')).toEqual([]);
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

  it("stays in Redis's compact hash encoding with a full list of events (issue #6)", async () => {
    if (redis !== real) return; // OBJECT ENCODING is a real-Redis notion
    const uid = randomUUID();
    const webauthn = (at: number): StoredFactorEvent => ({ factor: 'webauthn', credentialId: randomUUID(), at: 1_800_000_000 + at, amr: [], userVerified: true, backupEligible: true, attested: false });
    await store.append(uid, randomUUID(), Array.from({ length: 16 }, (_, i) => webauthn(i)));
    expect(await redis.object('ENCODING', `${prefix}oidc:session-uid:{${uid}}`)).toBe('listpack');
    // issue #15's "where was this session last used" fields too, with the longest IP and a long description
    const sessions = createAccountSessions(redis, prefix);
    await sessions.touch(uid, { description: `Some Browser ${'9'.repeat(80)} on Some OS`, ip: 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255', lastSeen: 1_800_000_000 });
    expect(await redis.hget(`${prefix}oidc:session-uid:{${uid}}`, 'di')).toBe('ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255');
    expect(Buffer.byteLength((await redis.hget(`${prefix}oidc:session-uid:{${uid}}`, 'dd'))!)).toBeLessThanOrEqual(64);
    expect(await redis.object('ENCODING', `${prefix}oidc:session-uid:{${uid}}`)).toBe('listpack');
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
      const raw = encodeEvent(event);
      expect(decodeEvent(raw)).toEqual(event);
      // Redis keeps a hash compact while every field is at most 64 bytes (hash-max-listpack-value)
      expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(64);
    }
    // unknown BE stays unknown: never read back as device-bound (hwk)
    expect(decodeEvent(encodeEvent({ factor: 'webauthn', at: 7, amr: [] }))?.amr).toEqual(['swk', 'user']);
  });
});
