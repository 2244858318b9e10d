import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import RedisMock from 'ioredis-mock';
import type { AdapterPayload } from 'oidc-provider';
import { createAccountSessions } from '../src/store/redis/account-sessions.js';
import { createRedisAdapterFactory } from '../src/store/redis/oidc-adapter.js';
import { createSessionEventsStore } from '../src/store/redis/session-events.js';
import { TEST_REDIS_URL } from './support/env.js';

/** revokeAccountSessions on the real Redis and on the in-process store of the embedded default. */
const real = new Redis(TEST_REDIS_URL);
const prefix = `stepup-test:${randomUUID()}:`;
afterAll(async () => {
  const keys = await real.keys(`${prefix}*`);
  if (keys.length) await real.del(...keys);
  real.disconnect();
});

const p = (payload: Record<string, unknown>) => payload as AdapterPayload;

describe.each([
  ['real Redis', real],
  ['in-process store', new (RedisMock as unknown as typeof Redis)()],
])('revokeAccountSessions on %s', (_name, redis) => {
  const adapter = createRedisAdapterFactory(redis, { prefix: `${prefix}oidc:` });
  const events = createSessionEventsStore(redis, prefix, 600);
  const { revokeAccountSessions } = createAccountSessions(redis, prefix);

  /** A signed-in session with one grant holding a refresh token and an access token. */
  async function signedIn(accountId: string) {
    const sessionId = randomUUID();
    const uid = randomUUID();
    const grantId = randomUUID();
    const refresh = randomUUID();
    const access = randomUUID();
    await adapter('Grant').upsert(grantId, p({ accountId, clientId: 'rp', jti: grantId }), 600);
    await adapter('RefreshToken').upsert(refresh, p({ accountId, grantId, jti: refresh }), 600);
    await adapter('AccessToken').upsert(access, p({ accountId, grantId, jti: access }), 600);
    await adapter('Session').upsert(sessionId, p({ uid, accountId, jti: sessionId, authorizations: { rp: { grantId, sid: 's' } } }), 600);
    await events.append(uid, accountId, [{ factor: 'password', at: 1, amr: ['pwd'] }]);
    return { sessionId, uid, grantId, refresh, access };
  }
  const alive = async (s: Awaited<ReturnType<typeof signedIn>>) => ({
    session: Boolean(await adapter('Session').findByUid(s.uid)),
    grant: Boolean(await adapter('Grant').find(s.grantId)),
    refresh: Boolean(await adapter('RefreshToken').find(s.refresh)),
    access: Boolean(await adapter('AccessToken').find(s.access)),
    // any account's: the events are fields of the session's uid hash
    events: Object.keys(await redis.hgetall(`${prefix}oidc:session-uid:{${s.uid}}`)).some((field) => field.startsWith('[')),
  });
  const all = { session: true, grant: true, refresh: true, access: true, events: true };
  const none = { session: false, grant: false, refresh: false, access: false, events: false };

  it('ends every session of the account and revokes every grant with its tokens', async () => {
    const alice = randomUUID();
    const bob = randomUUID();
    const a1 = await signedIn(alice);
    const a2 = await signedIn(alice);
    const b1 = await signedIn(bob);
    expect(await revokeAccountSessions(alice)).toEqual({ sessions: 2, grants: 2 });
    expect(await alive(a1)).toEqual(none);
    expect(await alive(a2)).toEqual(none);
    expect(await alive(b1)).toEqual(all); // another account is untouched
    expect(await revokeAccountSessions(alice)).toEqual({ sessions: 0, grants: 0 });
  });

  it('keeps one session and its grants when asked (a user removing a factor on /account)', async () => {
    const alice = randomUUID();
    const keep = await signedIn(alice);
    const other = await signedIn(alice);
    expect(await revokeAccountSessions(alice, { exceptSessionUid: keep.uid })).toEqual({ sessions: 1, grants: 1 });
    expect(await alive(keep)).toEqual(all);
    expect(await alive(other)).toEqual(none);
  });

  it('a session record re-used by another account is not ended through the old index', async () => {
    const alice = randomUUID();
    const mallory = randomUUID();
    const s = await signedIn(alice);
    // the same session record now belongs to another account
    await adapter('Session').upsert(s.sessionId, p({ uid: s.uid, accountId: mallory, jti: s.sessionId }), 600);
    await revokeAccountSessions(alice);
    expect(await adapter('Session').findByUid(s.uid)).toBeDefined();
    await revokeAccountSessions(mallory);
    expect(await adapter('Session').findByUid(s.uid)).toBeUndefined();
  });
});
