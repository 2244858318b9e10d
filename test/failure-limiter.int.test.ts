import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createAttemptGuard } from '../src/factors/attempts.js';
import { createFailureLimiter, type LimitRule } from '../src/store/redis/failure-limiter.js';
import { TEST_REDIS_URL } from './support/env.js';

const redis = new Redis(TEST_REDIS_URL);
const prefix = `stepup-test:${randomUUID()}:`;
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

const rule: LimitRule = { freeAttempts: 3, baseLockSeconds: 2, maxLockSeconds: 8, hardCap: 10, hardLockSeconds: 3600, windowSeconds: 60 };

describe('failure limiter (real Redis, SPEC §3)', () => {
  const limiter = createFailureLimiter(redis, prefix);

  it('allows the free attempts, then locks for a doubling delay capped at the maximum', async () => {
    const s = 'acct:a';
    const locks: number[] = [];
    for (let i = 0; i < 8; i++) locks.push((await limiter.recordFailure([{ subject: s, rule }]))[0]!.lockedForSeconds);
    expect(locks).toEqual([0, 0, 0, 2, 4, 8, 8, 8]);
    const status = await limiter.status([s]);
    expect(status.locked).toBe(true);
    expect(status.retryAfterSeconds).toBeGreaterThan(0);
  });

  it('locks hard at the cap of consecutive failures (NIST: at most 100)', async () => {
    const s = 'acct:b';
    let last = 0;
    for (let i = 0; i < 10; i++) last = (await limiter.recordFailure([{ subject: s, rule }]))[0]!.lockedForSeconds;
    expect(last).toBe(3600);
  });

  it('counts parallel failures exactly (atomic)', async () => {
    const s = 'acct:c';
    const results = await Promise.all(Array.from({ length: 25 }, () => limiter.recordFailure([{ subject: s, rule: { ...rule, hardCap: 1000 } }])));
    expect(results.map((r) => r[0]!.failures).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it('a success resets the count but not a running lock', async () => {
    const s = 'acct:d';
    for (let i = 0; i < 4; i++) await limiter.recordFailure([{ subject: s, rule }]);
    await limiter.reset([s]);
    expect((await limiter.status([s])).locked).toBe(true);
    expect((await limiter.recordFailure([{ subject: s, rule }]))[0]!.failures).toBe(1);
  });

  it('fails closed when Redis is unreachable: the check throws rather than allowing', async () => {
    const dead = new Redis({ port: 1, host: '127.0.0.1', maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, lazyConnect: true });
    dead.on('error', () => undefined);
    await expect(createFailureLimiter(dead, prefix).status(['acct:e'])).rejects.toThrow();
    dead.disconnect();
  });

  it('status names the subjects with failures counted; a success without any sends no DEL (issue #6), one with some ends the run', async () => {
    const counted: string[] = [];
    const spy = new Proxy(redis, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        return typeof value === 'function' ? (...args: unknown[]) => (counted.push(String(name)), (value as (...a: unknown[]) => unknown).apply(target, args)) : value;
      },
    });
    const guarded = createFailureLimiter(spy, prefix);
    const guard = createAttemptGuard(guarded, { record: async () => undefined } as never, { send: async () => undefined, within: () => async () => undefined });
    const clean = { account: `acct:${randomUUID()}`, ip: `ip:${randomUUID()}` };
    expect((await guarded.status([clean.account, clean.ip])).counting).toEqual([]);
    counted.length = 0;
    expect(await guard.lockedFor({} as never, clean, { type: 'login.totp', factor: 'totp' })).toBeUndefined();
    await guard.succeeded(clean);
    expect(counted).toEqual(['mget']);

    const failing = { account: `acct:${randomUUID()}`, ip: `ip:${randomUUID()}` };
    await guarded.recordFailure([{ subject: failing.account, rule }]);
    expect((await guarded.status([failing.account, failing.ip])).counting).toEqual([failing.account]);
    expect(await guard.lockedFor({} as never, failing, { type: 'login.totp', factor: 'totp' })).toBeUndefined();
    await guard.succeeded(failing);
    expect(await redis.exists(`${prefix}fail:{${failing.account}}`)).toBe(0);
  });
});
