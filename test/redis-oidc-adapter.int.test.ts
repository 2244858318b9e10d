import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import RedisMock from 'ioredis-mock';
import { errors } from 'oidc-provider';
import { createRedisAdapterFactory } from '../src/store/redis/oidc-adapter.js';
import { TEST_REDIS_URL } from './support/env.js';

/** The oidc-provider adapter against the real Redis (and the in-process store of the embedded default). */
const real = new Redis(TEST_REDIS_URL);
const prefix = `stepup-test:${randomUUID()}:`;
afterAll(async () => {
  const keys = await real.keys(`${prefix}*`);
  if (keys.length) await real.del(...keys);
  real.disconnect();
});

const stores: Array<[string, Redis]> = [
  ['real Redis', real],
  ['in-process store', new (RedisMock as unknown as typeof Redis)()],
];

describe.each(stores)('Redis adapter on %s', (_name, redis) => {
  const adapters = createRedisAdapterFactory(redis, { prefix });
  const codes = adapters('AuthorizationCode');

  it('returns undefined for a missing record', async () => {
    expect(await codes.find('nope')).toBeUndefined();
  });

  it('round-trips a payload with its TTL, and replaces on upsert (a stale consumed does not survive)', async () => {
    const id = randomUUID();
    await codes.upsert(id, { grantId: 'g0', kind: 'AuthorizationCode' } as never, 60);
    expect(await codes.find(id)).toMatchObject({ grantId: 'g0' });
    expect(await redis.ttl(`${prefix}AuthorizationCode:${id}`)).toBeGreaterThan(50);
    await codes.consume(id);
    expect((await codes.find(id))?.consumed).toEqual(expect.any(Number));
    await codes.upsert(id, { grantId: 'g0' } as never, 60);
    expect((await codes.find(id))?.consumed).toBeUndefined();
  });

  it('sets no expiry when expiresIn is undefined', async () => {
    const clients = adapters('Client');
    await clients.upsert('c1', { client_id: 'c1' } as never, undefined);
    expect(await redis.ttl(`${prefix}Client:c1`)).toBe(-1);
    await clients.destroy('c1');
  });

  it('consume is atomic: 20 parallel consumes of one code → exactly one wins, the rest InvalidGrant', async () => {
    const id = randomUUID();
    await codes.upsert(id, { grantId: 'g1' } as never, 60);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => codes.consume(id)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(19);
    for (const r of rejected) expect(r.reason).toBeInstanceOf(errors.InvalidGrant);
  });

  it('consume of a missing record fails, and PAR can be consumed', async () => {
    await expect(codes.consume('missing')).rejects.toBeInstanceOf(errors.InvalidGrant);
    const par = adapters('PushedAuthorizationRequest');
    await par.upsert('p1', { request: 'x' } as never, 60);
    await par.consume('p1');
    expect((await par.find('p1'))?.consumed).toBeTruthy();
  });

  it('revokeByGrantId removes every record of that grant and no other', async () => {
    const grant = `g-${randomUUID()}`;
    const other = `g-${randomUUID()}`;
    const at = adapters('AccessToken');
    const rt = adapters('RefreshToken');
    await at.upsert('a1', { grantId: grant } as never, 60);
    await rt.upsert('r1', { grantId: grant } as never, 600);
    await codes.upsert('c-g', { grantId: grant } as never, 60);
    await at.upsert('a2', { grantId: other } as never, 60);
    await at.revokeByGrantId(grant);
    expect(await at.find('a1')).toBeUndefined();
    expect(await rt.find('r1')).toBeUndefined();
    expect(await codes.find('c-g')).toBeUndefined();
    expect(await at.find('a2')).toMatchObject({ grantId: other });
  });

  it('the grant index lives at least as long as its longest member', async () => {
    const grant = `g-${randomUUID()}`;
    await adapters('AccessToken').upsert('x1', { grantId: grant } as never, 60);
    await adapters('RefreshToken').upsert('x2', { grantId: grant } as never, 6000);
    await adapters('AccessToken').upsert('x3', { grantId: grant } as never, 30);
    expect(await redis.ttl(`${prefix}grant:${grant}`)).toBeGreaterThan(5900);
  });

  it('findByUid follows session id rotation, and a late destroy of the old id keeps the new index', async () => {
    const sessions = adapters('Session');
    const uid = randomUUID();
    await sessions.upsert('old', { uid, accountId: 'a' } as never, 600);
    expect(await sessions.findByUid(uid)).toMatchObject({ accountId: 'a' });
    await sessions.upsert('new', { uid, accountId: 'a', n: 2 } as never, 600);
    await sessions.destroy('old');
    expect(await sessions.findByUid(uid)).toMatchObject({ n: 2 });
    await sessions.destroy('new');
    expect(await sessions.findByUid(uid)).toBeUndefined();
  });

  it('findByUserCode', async () => {
    const devices = adapters('DeviceCode');
    await devices.upsert('d1', { userCode: 'ABCD-EFGH' } as never, 60);
    expect(await devices.findByUserCode('ABCD-EFGH')).toMatchObject({ userCode: 'ABCD-EFGH' });
    expect(await devices.findByUserCode('NOPE')).toBeUndefined();
  });
});
