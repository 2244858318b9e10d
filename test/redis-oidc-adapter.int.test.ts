import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import RedisMock from 'ioredis-mock';
import { errors, type AdapterPayload } from 'oidc-provider';
import { createRedisAdapterFactory } from '../src/store/redis/oidc-adapter.js';

/**
 * The oidc-provider adapter against the REAL Redis (never mocked here), plus the core behaviour against
 * ioredis-mock, the in-process store of the embedded default.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `stepup-test:${randomUUID()}:`;

const MODELS = [
  'Session',
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'ClientCredentials',
  'Client',
  'InitialAccessToken',
  'RegistrationAccessToken',
  'Interaction',
  'ReplayDetection',
  'PushedAuthorizationRequest',
  'Grant',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
];

const p = (payload: Record<string, unknown>) => payload as AdapterPayload;
const now = () => Math.floor(Date.now() / 1000);

/** The names of the commands a client sends (every ioredis command method goes through the proxy). */
function countingCommands(redis: Redis): { client: Redis; sent: string[] } {
  const sent: string[] = [];
  const client = new Proxy(redis, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        sent.push(String(name));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { client, sent };
}

/** Behaviour every store must have: run on real Redis and on ioredis-mock. */
function coreSuite(getRedis: () => Redis) {
  const adapters = (model: string) => createRedisAdapterFactory(getRedis(), { prefix })(model);

  it('find of a missing record returns undefined', async () => {
    expect(await adapters('AuthorizationCode').find(randomUUID())).toBeUndefined();
    expect(await adapters('Session').findByUid(randomUUID())).toBeUndefined();
  });

  it('upsert/find round-trips the payload and sets the TTL', async () => {
    const codes = adapters('AuthorizationCode');
    const id = randomUUID();
    const payload = { grantId: `g-${randomUUID()}`, kind: 'AuthorizationCode', scope: 'openid', nested: { a: [1, 2] } };
    await codes.upsert(id, p(payload), 60);
    expect(await codes.find(id)).toEqual(payload);
    const ttl = await getRedis().ttl(`${prefix}AuthorizationCode:{${id}}`);
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);
  });

  it('consume marks the record consumed (epoch seconds), and upsert replaces it (no stale consumed)', async () => {
    const codes = adapters('AuthorizationCode');
    const id = randomUUID();
    await codes.upsert(id, p({ grantId: 'g0' }), 60);
    expect((await codes.find(id))?.consumed).toBeUndefined();
    await codes.consume(id);
    const consumed = (await codes.find(id))?.consumed as number;
    expect(typeof consumed).toBe('number');
    expect(Math.abs(consumed - now())).toBeLessThanOrEqual(2);
    await codes.upsert(id, p({ grantId: 'g0', v: 2 }), 60);
    const replaced = await codes.find(id);
    expect(replaced).toEqual({ grantId: 'g0', v: 2 });
    expect(replaced?.consumed).toBeUndefined();
  });

  it('20 parallel consume() of one AuthorizationCode: exactly one wins, 19 reject with InvalidGrant', async () => {
    const codes = adapters('AuthorizationCode');
    const id = randomUUID();
    await codes.upsert(id, p({ grantId: 'g1' }), 60);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => codes.consume(id)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(19);
    for (const r of rejected) {
      expect(r.reason).toBeInstanceOf(errors.InvalidGrant);
      expect((r.reason as InstanceType<typeof errors.InvalidGrant>).error).toBe('invalid_grant');
    }
    // the replays revoked the code's grant (RFC 6749 §4.1.2), the consumed code with it
    expect(await codes.find(id)).toBeUndefined();
  });

  it('consume of a missing record rejects with InvalidGrant and creates nothing', async () => {
    const id = randomUUID();
    await expect(adapters('AuthorizationCode').consume(id)).rejects.toBeInstanceOf(errors.InvalidGrant);
    expect(await getRedis().exists(`${prefix}AuthorizationCode:{${id}}`)).toBe(0);
  });

  it('findByUid reads the index and the record in one Redis command (issue #6); a gone record or index reads as undefined', async () => {
    const redis = getRedis();
    const { client, sent } = countingCommands(redis);
    const sessions = createRedisAdapterFactory(client, { prefix })('Session');
    const uid = randomUUID();
    const id = `s-${randomUUID()}`;
    await sessions.upsert(id, p({ uid, accountId: 'a1' }), 600);
    await sessions.findByUid(randomUUID()); // Redis now knows the script (a first use may add one EVAL)
    sent.length = 0;
    expect(await sessions.findByUid(uid)).toEqual({ uid, accountId: 'a1' });
    expect(sent).toEqual(['evalsha']);

    await redis.del(`${prefix}session:{${id}}`);
    expect(await sessions.findByUid(uid)).toBeUndefined();
    expect(await sessions.findByUid(randomUUID())).toBeUndefined();

    // an id with the characters a hash tag escapes is found too
    const odd = `s-{${randomUUID()}}%`;
    await sessions.upsert(odd, p({ uid, accountId: 'a2' }), 600);
    expect(await sessions.findByUid(uid)).toEqual({ uid, accountId: 'a2' });
  });

  it('a Session is one STRING (its uid and account in front of the payload); it is never consumed', async () => {
    const redis = getRedis();
    const sessions = adapters('Session');
    const id = randomUUID();
    const payload = { uid: randomUUID(), accountId: randomUUID(), kind: 'Session', amr: ['pwd'] };
    await sessions.upsert(id, p(payload), 600);
    expect(await redis.get(`${prefix}session:{${id}}`)).toBe(`${payload.uid}\n${payload.accountId}\n${JSON.stringify(payload)}`);
    expect(await sessions.find(id)).toEqual(payload);
    await expect(sessions.consume(id)).rejects.toBeInstanceOf(errors.InvalidGrant);
    expect(await sessions.find(id)).toEqual(payload);
  });

  it('consume on PushedAuthorizationRequest works (same HASH layout, no WRONGTYPE)', async () => {
    const par = adapters('PushedAuthorizationRequest');
    const id = randomUUID();
    await par.upsert(id, p({ request: 'eyJ...', dpopJkt: undefined }), 60);
    await par.consume(id);
    expect(await par.find(id)).toMatchObject({ request: 'eyJ...', consumed: expect.any(Number) });
    await expect(par.consume(id)).rejects.toBeInstanceOf(errors.InvalidGrant);
  });
}

describe('Redis OIDC adapter on the real Redis', () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const adapters = createRedisAdapterFactory(redis, { prefix });

  beforeAll(async () => {
    expect(await redis.ping()).toBe('PONG');
  });

  afterAll(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
  });

  coreSuite(() => redis);

  it('no EXPIRE when expiresIn is undefined', async () => {
    const clients = adapters('Client');
    const id = randomUUID();
    await clients.upsert(id, p({ client_id: id }), undefined);
    expect(await clients.find(id)).toEqual({ client_id: id });
    expect(await redis.ttl(`${prefix}Client:{${id}}`)).toBe(-1);
    // also a previously expiring record becomes persistent when re-upserted without expiresIn
    await clients.upsert(id, p({ client_id: id }), 30);
    expect(await redis.ttl(`${prefix}Client:{${id}}`)).toBeGreaterThan(0);
    await clients.upsert(id, p({ client_id: id }), undefined);
    expect(await redis.ttl(`${prefix}Client:{${id}}`)).toBe(-1);
  });

  it('works with every model name oidc-provider 9 uses (upsert, find, consume, destroy)', async () => {
    for (const model of MODELS) {
      const a = adapters(model);
      const id = randomUUID();
      const payload = { kind: model, jti: id, ...(model === 'Session' ? { uid: randomUUID() } : {}) };
      await a.upsert(id, p(payload), 60);
      expect(await a.find(id)).toEqual(payload);
      if (model !== 'Session') {
        await a.consume(id);
        expect((await a.find(id))?.consumed).toEqual(expect.any(Number));
      }
      await a.destroy(id);
      expect(await a.find(id)).toBeUndefined();
      expect(await redis.exists(model === 'Session' ? `${prefix}session:{${id}}` : `${prefix}${model}:{${id}}`)).toBe(0);
    }
  });

  it('revokeByGrantId removes AccessToken/RefreshToken/AuthorizationCode of that grant, not of another', async () => {
    const grant = `g-${randomUUID()}`;
    const other = `g-${randomUUID()}`;
    const at = adapters('AccessToken');
    const rt = adapters('RefreshToken');
    const ac = adapters('AuthorizationCode');
    await at.upsert('at1', p({ grantId: grant }), 60);
    await rt.upsert('rt1', p({ grantId: grant }), 600);
    await ac.upsert('ac1', p({ grantId: grant }), 60);
    await at.upsert('at2', p({ grantId: other }), 60);
    await rt.upsert('rt2', p({ grantId: other }), 600);
    await ac.upsert('ac2', p({ grantId: other }), 60);

    // oidc-provider calls it on every grantable model's adapter in parallel
    await Promise.all([at.revokeByGrantId(grant), rt.revokeByGrantId(grant), ac.revokeByGrantId(grant)]);

    expect(await at.find('at1')).toBeUndefined();
    expect(await rt.find('rt1')).toBeUndefined();
    expect(await ac.find('ac1')).toBeUndefined();
    expect(await redis.exists(`${prefix}grant:{${grant}}`)).toBe(0);
    expect(await at.find('at2')).toEqual({ grantId: other });
    expect(await rt.find('rt2')).toEqual({ grantId: other });
    expect(await ac.find('ac2')).toEqual({ grantId: other });
    expect(await redis.smembers(`${prefix}grant:{${other}}`)).toHaveLength(3);
  });

  it('a second consume of a code (a replay that raced the first use) revokes every token of its grant', async () => {
    const grant = `g-${randomUUID()}`;
    const ac = adapters('AuthorizationCode');
    const rt = adapters('RefreshToken');
    await ac.upsert('code1', p({ grantId: grant }), 60);
    await ac.consume('code1'); // the first use wins…
    await rt.upsert('rt-from-code', p({ grantId: grant, iat: now() - 5 }), 600); // …and has already saved its refresh token
    await expect(ac.consume('code1')).rejects.toThrow(errors.InvalidGrant); // the replay
    expect(await rt.find('rt-from-code')).toBeUndefined();
    // and the first use's token saved a moment later is refused too
    await rt.upsert('rt-late', p({ grantId: grant, iat: now() }), 600);
    expect(await rt.find('rt-late')).toBeUndefined();
  });

  it('a token minted before its grant was revoked but saved after is not stored; one minted later is (code replay race)', async () => {
    const grant = `g-${randomUUID()}`;
    const rt = adapters('RefreshToken');
    const at = adapters('AccessToken');
    // a replayed code revokes the grant while the winner of the race is still saving its tokens
    await Promise.all([rt.revokeByGrantId(grant), at.revokeByGrantId(grant)]);
    await rt.upsert('rt-late', p({ grantId: grant, iat: now() }), 600);
    await at.upsert('at-late', p({ grantId: grant, iat: now() }), 60);
    expect(await rt.find('rt-late')).toBeUndefined();
    expect(await at.find('at-late')).toBeUndefined();
    // a new authorization reusing the grant (only an access token had been revoked) mints later: stored
    await rt.upsert('rt-new', p({ grantId: grant, iat: now() + 5 }), 600);
    expect(await rt.find('rt-new')).toEqual({ grantId: grant, iat: expect.any(Number) });
    // tokens of other grants are untouched by the marker
    await rt.upsert('rt-other', p({ grantId: `g-${randomUUID()}`, iat: now() }), 600);
    expect(await rt.find('rt-other')).toBeDefined();
  });

  it('the grant set never expires before its members (TTL only raised; persistent for a non-expiring member)', async () => {
    const grant = `g-${randomUUID()}`;
    const setKey = `${prefix}grant:{${grant}}`;
    await adapters('AccessToken').upsert(randomUUID(), p({ grantId: grant }), 60);
    expect(await redis.ttl(setKey)).toBeGreaterThan(50);
    await adapters('RefreshToken').upsert(randomUUID(), p({ grantId: grant }), 6000);
    expect(await redis.ttl(setKey)).toBeGreaterThan(5900);
    await adapters('AccessToken').upsert(randomUUID(), p({ grantId: grant }), 30);
    expect(await redis.ttl(setKey)).toBeGreaterThan(5900);
    await adapters('RefreshToken').upsert(randomUUID(), p({ grantId: grant }), undefined);
    expect(await redis.ttl(setKey)).toBe(-1);
    await adapters('AccessToken').upsert(randomUUID(), p({ grantId: grant }), 30);
    expect(await redis.ttl(setKey)).toBe(-1);
    expect(await redis.scard(setKey)).toBe(5);
  });

  it('destroy removes the record from its grant set (and the set once empty)', async () => {
    const grant = `g-${randomUUID()}`;
    const at = adapters('AccessToken');
    await at.upsert('d1', p({ grantId: grant }), 60);
    await at.upsert('d2', p({ grantId: grant }), 60);
    await at.destroy('d1');
    expect(await redis.smembers(`${prefix}grant:{${grant}}`)).toEqual([`${prefix}AccessToken:{d2}`]);
    await at.destroy('d2');
    expect(await redis.exists(`${prefix}grant:{${grant}}`)).toBe(0);
  });

  it('findByUid follows session id rotation; a late destroy of the old id keeps the new index', async () => {
    const sessions = adapters('Session');
    const uid = randomUUID();
    const oldId = randomUUID();
    const newId = randomUUID();
    await sessions.upsert(oldId, p({ uid, accountId: 'a', v: 1 }), 600);
    expect(await sessions.findByUid(uid)).toEqual({ uid, accountId: 'a', v: 1 });
    const idxTtl = await redis.ttl(`${prefix}session-uid:{${uid}}`);
    expect(idxTtl).toBeGreaterThan(590);
    expect(idxTtl).toBeLessThanOrEqual(600);

    // resume in order: destroy(old), upsert(new)
    await sessions.destroy(oldId);
    expect(await sessions.findByUid(uid)).toBeUndefined();
    await sessions.upsert(newId, p({ uid, accountId: 'a', v: 2 }), 600);
    expect(await sessions.findByUid(uid)).toEqual({ uid, accountId: 'a', v: 2 });

    // racing: upsert(new2) lands before a late destroy(new): the index must keep pointing at new2
    const newer = randomUUID();
    await sessions.upsert(newer, p({ uid, accountId: 'a', v: 3 }), 600);
    await sessions.destroy(newId);
    expect(await redis.hget(`${prefix}session-uid:{${uid}}`, 'i')).toBe(newer);
    expect(await sessions.findByUid(uid)).toEqual({ uid, accountId: 'a', v: 3 });

    // sliding re-save overwrites the index TTL
    await sessions.upsert(newer, p({ uid, accountId: 'a', v: 4 }), 1200);
    expect(await redis.ttl(`${prefix}session-uid:{${uid}}`)).toBeGreaterThan(1190);

    await sessions.destroy(newer);
    expect(await sessions.findByUid(uid)).toBeUndefined();
    expect(await redis.hexists(`${prefix}session-uid:{${uid}}`, 'i')).toBe(0);
  });

  it('findByUid returns undefined when the index points at a gone record', async () => {
    const uid = randomUUID();
    await redis.hset(`${prefix}session-uid:{${uid}}`, 'i', 'gone');
    expect(await adapters('Session').findByUid(uid)).toBeUndefined();
  });

  it('findByUserCode resolves through the userCode index with the record TTL', async () => {
    const devices = adapters('DeviceCode');
    const id = randomUUID();
    const userCode = `UC${randomUUID().slice(0, 8)}`;
    await devices.upsert(id, p({ userCode, grantId: `g-${randomUUID()}`, deviceInfo: { ip: '1' } }), 600);
    expect(await devices.findByUserCode(userCode)).toMatchObject({ userCode });
    expect(await redis.ttl(`${prefix}userCode:{${userCode}}`)).toBeGreaterThan(590);
    expect(await devices.findByUserCode('NOPE')).toBeUndefined();
    await devices.consume(id);
    expect(await devices.findByUserCode(userCode)).toMatchObject({ userCode, consumed: expect.any(Number) });
    await devices.destroy(id);
    expect(await devices.findByUserCode(userCode)).toBeUndefined();
  });
});

describe('Redis memory of a signed-in session (issue #6: at most 1 KiB)', () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  // as long as the production default REDIS_KEY_PREFIX (`stepup:`): key names count in MEMORY USAGE
  const shortPrefix = `${randomUUID().slice(0, 6)}:`;
  afterAll(async () => {
    const keys = await redis.keys(`${shortPrefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it("the session record and its uid hash with a password + TOTP login's events stay within 1024 bytes", async () => {
    const { createSessionEventsStore } = await import('../src/store/redis/session-events.js');
    const sessions = createRedisAdapterFactory(redis, { prefix: `${shortPrefix}oidc:` })('Session');
    const events = createSessionEventsStore(redis, shortPrefix, 14 * 24 * 3600);
    const id = 'ApHQhB99p12Td5ELldW7ecpn-17B4doBI0vk8fY-3eu'; // oidc-provider's ids: 43 characters
    const uid = 'GnzSZUoJu7XCwlLql6Cahwy4pefLnkyfujNk7zAv0gg';
    const accountId = randomUUID();
    const at = now();
    // what oidc-provider 9 saves after a login at one relying party
    const payload = {
      iat: at, exp: at + 14 * 24 * 3600, kind: 'Session', jti: id, uid, accountId, loginTs: at, amr: ['pwd', 'otp', 'mfa'], acr: 'aal2',
      authorizations: { 'bench-rp': { sid: 'OYJzU9pgrf-AO2M-WgHtehsDYseLRlrcV01qdhCc6of', grantId: '8W_PJeZeaeUQX1MdXKzaxZ10G3DExl6Takf5iGhmMsF' } },
    };
    await events.append(uid, accountId, [
      { factor: 'password', at, amr: ['pwd'] },
      { factor: 'totp', credentialId: randomUUID(), at, amr: ['otp'] },
    ]);
    await sessions.upsert(id, p(payload), 14 * 24 * 3600);
    const usage = async (key: string) => Number(await redis.memory('USAGE', key, 'SAMPLES', '0'));
    const bytes = (await usage(`${shortPrefix}oidc:session:{${id}}`)) + (await usage(`${shortPrefix}oidc:session-uid:{${uid}}`));
    expect(await redis.object('ENCODING', `${shortPrefix}oidc:session-uid:{${uid}}`)).toBe('listpack');
    expect(bytes).toBeLessThanOrEqual(1024);
    expect((await sessions.findByUid(uid))?.accountId).toBe(accountId);
    expect(await events.get(uid, accountId)).toHaveLength(2);
  });
});

describe('Redis OIDC adapter on ioredis-mock (embedded default)', () => {
  const mock = new (RedisMock as unknown as typeof Redis)();
  afterAll(() => mock.disconnect());

  coreSuite(() => mock);

  it('scripts go by SHA1; a Redis that does not know a script yet (fresh, restarted) gets it once by EVAL (issue #6)', async () => {
    const fresh = new (RedisMock as unknown as typeof Redis)();
    const { client, sent } = countingCommands(fresh);
    const codes = createRedisAdapterFactory(client, { prefix: `${prefix}fresh:` })('AuthorizationCode');
    // the record, then its grant's set (two tags: two scripts, issue #18)
    await codes.upsert('c1', p({ grantId: 'g1' }), 60);
    expect(sent).toEqual(['evalsha', 'eval', 'evalsha', 'eval']);
    sent.length = 0;
    await codes.upsert('c2', p({ grantId: 'g1' }), 60);
    await codes.consume('c2');
    expect(sent).toEqual(['evalsha', 'evalsha', 'evalsha', 'eval']); // consume's script was new too
    expect(await codes.find('c2')).toMatchObject({ grantId: 'g1', consumed: expect.any(Number) });
    fresh.disconnect();
  });

  it('session rotation and revokeByGrantId in the Lua scripts', async () => {
    const adapters = createRedisAdapterFactory(mock, { prefix });
    const sessions = adapters('Session');
    const uid = randomUUID();
    await sessions.upsert('s-old', p({ uid }), 600);
    await sessions.upsert('s-new', p({ uid, v: 2 }), 600);
    await sessions.destroy('s-old');
    expect(await sessions.findByUid(uid)).toEqual({ uid, v: 2 });

    const grant = `g-${randomUUID()}`;
    await adapters('AccessToken').upsert('m-at', p({ grantId: grant }), 60);
    await adapters('RefreshToken').upsert('m-rt', p({ grantId: grant }), 6000);
    await adapters('AccessToken').upsert('m-at2', p({ grantId: grant }), 30);
    expect(await mock.ttl(`${prefix}grant:{${grant}}`)).toBeGreaterThan(5900);
    await adapters('AccessToken').revokeByGrantId(grant);
    expect(await adapters('RefreshToken').find('m-rt')).toBeUndefined();
    expect(await mock.exists(`${prefix}grant:{${grant}}`)).toBe(0);
  });
});
