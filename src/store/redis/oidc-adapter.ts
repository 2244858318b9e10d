import type { Redis } from 'ioredis';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { defineScript, runScript } from './scripts.js';

/**
 * oidc-provider's storage for every short-lived model (sessions, interactions, codes, tokens, grants…)
 * in Redis.
 *
 * Layout (full keys are built here, no ioredis keyPrefix: keys stored as values, e.g. grant-set members,
 * would otherwise be prefixed inconsistently):
 * - `${prefix}${model}:${id}`: one HASH per record, for every model but Session. Field `payload` holds
 *   the JSON payload, `consumed` the epoch seconds of consumption. The fields `grantId`, `uid` and
 *   `userCode` copy the indexed values, so destroy() can clean its indexes inside one Lua script (the
 *   in-process store has no cjson, so Lua cannot read them from the JSON). The same layout for all these
 *   models means consume() works on every consumable model, PushedAuthorizationRequest and
 *   PreAuthorizedCode included (the old upstream example stored those as STRINGs: WRONGTYPE on the first
 *   PAR consume).
 * - `${prefix}session:${id}`: a Session is a STRING, `<uid>\n<accountId>\n<payload JSON>` (issue #6:
 *   Redis memory per active session). Its JSON is longer than Redis's 64-byte limit for compact hashes,
 *   so as a HASH it was stored as a full hash table (about 860 bytes a session, 550 as a STRING). The
 *   two lines in front are what destroy() and account revocation read; sessions are never consumed.
 * - `${prefix}session-uid:${uid}`: a small HASH (compact encoding) for the session's stable uid: field
 *   `i` is the current session id (findByUid), and session-events.ts keeps the session's factor events
 *   beside it, so a session costs two keys, not three.
 * - `${prefix}grant:${grantId}`: SET of the record keys of a grant, for revokeByGrantId().
 * - `${prefix}userCode:${userCode}`: STRING -> record id.
 * - `${prefix}account:${accountId}`: SET of the record keys of an account's Sessions and Grants, so
 *   revokeAccountSessions() (account-sessions.ts) can end every session and refresh token of one
 *   account. Members whose record is gone are skipped there; the set's TTL follows the grant set's rule.
 *
 * Every multi-key change is one Lua script, so it is atomic on Redis and in ioredis-mock (the embedded
 * default): ioredis-mock has no EVAL inside MULTI and ignores the GT/NX options of EXPIRE, so
 * "EXPIRE … GT" cannot be relied on there. The revoke and destroy scripts touch keys derived from
 * data (grant members, indexes): fine on a single Redis, not usable on Redis Cluster.
 */


/** Models indexed per account, so every session and grant (refresh tokens) of an account can be revoked. */
export const ACCOUNT_INDEXED = new Set(['Session', 'Grant']);

/** Key layout shared with account-sessions.ts. */
export const oidcKeys = (prefix: string) => ({
  record: (model: string, id: string) => (model === 'Session' ? `${prefix}session:${id}` : `${prefix}${model}:${id}`),
  grant: (grantId: string) => `${prefix}grant:${grantId}`,
  sessionUid: (uid: string) => `${prefix}session-uid:${uid}`,
  account: (accountId: string) => `${prefix}account:${accountId}`,
});

/** Field of the session-uid HASH holding the current session id; session-events.ts uses the others. */
export const SESSION_ID_FIELD = 'i';

/** A Session record as stored (see the layout above): the two index lines, then the payload. */
export function encodeSessionRecord(payload: { uid?: unknown; accountId?: unknown }, json: string): string {
  const line = (v: unknown) => (typeof v === 'string' && !v.includes('\n') ? v : '');
  return `${line(payload.uid)}\n${line(payload.accountId)}\n${json}`;
}

export function decodeSessionRecord(stored: string): { uid: string; accountId: string; json: string } | undefined {
  const first = stored.indexOf('\n');
  const second = first === -1 ? -1 : stored.indexOf('\n', first + 1);
  if (second === -1) return undefined;
  return { uid: stored.slice(0, first), accountId: stored.slice(first + 1, second), json: stored.slice(second + 1) };
}

/**
 * A revoked grant is marked with the moment of revocation, so a token minted before it but saved after
 * (the winner of a code race saving its refresh token after a replay revoked the grant, RFC 6749
 * §4.1.2) is refused by UPSERT instead of outliving the revocation. That window is milliseconds; the
 * marker outlives it generously and then goes, so it costs nothing for long.
 */
const REVOKED_GRANT_MARKER_SECONDS = 600;
/**
 * oidc-provider sets a token's iat when it saves it, so "minted before the revocation" is read as "iat
 * no later than a second after it": a token saved up to 1–2 s after its grant was revoked is refused.
 * A new authorization reusing the grant (after only an access token was revoked) mints later than that.
 */
const REVOKED_GRANT_GRACE_SECONDS = 1;

/** Models oidc-provider revokes by grant (lib/helpers/revoke.js); the same list as its memory adapter. */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/*
 * Adds a record key to an index set (grant set, account set) that must never expire before a member,
 * else revoking would miss a live record: its TTL is only ever raised to the new member's TTL, and it is
 * made persistent for a member without expiry. The TTL is read and changed in the same script: read
 * outside (as the old upstream example did) a concurrent upsert could lower it in between.
 * Shared by the UPSERT scripts; expects `ttl` and `record` in scope.
 */
const MEMBER_LUA = `
local function member(set)
  local before = redis.call('TTL', set)
  redis.call('SADD', set, record)
  if ttl > 0 then
    if before == -2 or (before >= 0 and before < ttl) then redis.call('EXPIRE', set, ttl) end
  elseif before >= 0 then
    redis.call('PERSIST', set)
  end
end
`;

/*
 * Upsert replaces the record: DEL first, so a stale `consumed` (or stale field) cannot survive.
 * The userCode index is overwritten on every upsert and shares the record's TTL.
 *
 * KEYS[1] record, then in order the keys whose flag is '1': grant set and its revocation marker,
 * userCode index, account set.
 * ARGV: payload JSON, ttl seconds ('0' = no expiry), id, grant flag, userCode flag, grantId, userCode,
 * account flag, accountId, the payload's iat ('' when none).
 */
const UPSERT = `
local ttl = tonumber(ARGV[2])
local record = KEYS[1]
${MEMBER_LUA}
-- a token minted before its grant was revoked but saved after (see REVOKE) is not stored: the client
-- holds a token that finds nothing. Tokens minted later (a new authorization reusing the grant) are.
if ARGV[4] == '1' then
  local revokedAt = tonumber(redis.call('GET', KEYS[3]) or '')
  local iat = tonumber(ARGV[10])
  if revokedAt ~= nil and (iat == nil or iat <= revokedAt) then return 0 end
end
redis.call('DEL', record)
redis.call('HSET', record, 'payload', ARGV[1])
if ttl > 0 then redis.call('EXPIRE', record, ttl) end
local n = 2
if ARGV[4] == '1' then
  local set = KEYS[n]
  n = n + 2 -- the grant set, then its revocation marker
  redis.call('HSET', record, 'grantId', ARGV[6])
  member(set)
end
if ARGV[5] == '1' then
  redis.call('HSET', record, 'userCode', ARGV[7])
  if ttl > 0 then redis.call('SET', KEYS[n], ARGV[3], 'EX', ttl) else redis.call('SET', KEYS[n], ARGV[3]) end
  n = n + 1
end
if ARGV[8] == '1' then
  redis.call('HSET', record, 'accountId', ARGV[9])
  member(KEYS[n])
  n = n + 1
end
return 1
`;

/*
 * A Session (STRING, see the layout): the record, its uid's `i` field and its account set, with one TTL
 * (each request re-saves the session with a sliding TTL). Only the `i` field is written: the factor
 * events beside it (session-events.ts) are kept.
 * KEYS[1] record, then the uid hash if the uid flag is '1', then the account set if its flag is '1'.
 * ARGV: stored value, ttl seconds ('0' = no expiry), id, uid flag, account flag.
 */
const UPSERT_SESSION = `
local ttl = tonumber(ARGV[2])
local record = KEYS[1]
${MEMBER_LUA}
if ttl > 0 then redis.call('SET', record, ARGV[1], 'EX', ttl) else redis.call('SET', record, ARGV[1]) end
local n = 2
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[n], '${SESSION_ID_FIELD}', ARGV[3])
  if ttl > 0 then redis.call('EXPIRE', KEYS[n], ttl) else redis.call('PERSIST', KEYS[n]) end
  n = n + 1
end
if ARGV[5] == '1' then member(KEYS[n]) end
return 1
`;

/*
 * oidc-provider reads `consumed`, then calls consume() and ignores its result
 * (helpers/grant_source.js consumeGrantSource, actions/grants/refresh_token.js): with a plain HSET two
 * parallel redemptions of one code both pass the check and both mint tokens (verified double-spend).
 * Only one caller can win this script; consume() throws for the losers, before any token exists.
 * EXISTS first: HSETNX on a missing (expired, revoked) key would create a payload-less hash.
 */
const CONSUME = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1]) == 1 then return 1 end
-- A second use of a single-use grant source (a replayed code or refresh token). RFC 6749 §4.1.2: revoke
-- what the grant issued. oidc-provider does so only when it reads 'consumed' before calling consume();
-- a replay racing the first use reads it unset and lands here, so the revocation is done here too.
local grantId = redis.call('HGET', KEYS[1], 'grantId')
if type(grantId) == 'string' and grantId ~= '' then
  local set = ARGV[2] .. 'grant:' .. grantId
  local members = redis.call('SMEMBERS', set)
  for i = 1, #members do redis.call('DEL', members[i]) end
  redis.call('DEL', set)
  redis.call('SET', set .. ':revoked', ARGV[3], 'EX', tonumber(ARGV[4]))
end
return 0
`;

/*
 * Deletes the record and its index entries. The userCode index is compare-and-deleted, so a late
 * destroy never removes an index that already names a newer record. HMGET of a missing field is false
 * on Redis but a null userdata (truthy) in ioredis-mock, hence the type check.
 * KEYS[1] record; ARGV: prefix, id.
 */
const DESTROY = `
local function str(v) if type(v) == 'string' and v ~= '' then return v end return nil end
local record = KEYS[1]
local f = redis.call('HMGET', record, 'grantId', 'userCode')
redis.call('DEL', record)
local grantId, userCode = str(f[1]), str(f[2])
if grantId then
  local set = ARGV[1] .. 'grant:' .. grantId
  redis.call('SREM', set, record)
  if redis.call('SCARD', set) == 0 then redis.call('DEL', set) end
end
if userCode then
  local k = ARGV[1] .. 'userCode:' .. userCode
  if redis.call('GET', k) == ARGV[2] then redis.call('DEL', k) end
end
return 1
`;

/*
 * A Session and its uid's `i` field. Compare-and-delete: resume rotates a session's id (destroy(old),
 * upsert(new) with the same uid) and the two can race, so a late destroy(old) must not remove the `i`
 * that already names the new id. The factor events beside it stay: they belong to the uid, and logout
 * or revocation removes them (session-events.ts, account-sessions.ts).
 * KEYS[1] record; ARGV: session-uid key prefix, id.
 */
const DESTROY_SESSION = `
local stored = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
if type(stored) ~= 'string' then return 1 end
local nl = string.find(stored, '\\n', 1, true)
if nl == nil or nl == 1 then return 1 end
local k = ARGV[1] .. string.sub(stored, 1, nl - 1)
if redis.call('HGET', k, '${SESSION_ID_FIELD}') == ARGV[2] then redis.call('HDEL', k, '${SESSION_ID_FIELD}') end
return 1
`;

/*
 * Members and set go in one script: with SMEMBERS then a separate DEL, a token upserted for the grant
 * in between (e.g. a rotated refresh token) would be dropped from the set but stay alive and
 * unrevocable. Left-over userCode indexes point at deleted records (findByUserCode -> undefined) and
 * expire with them. KEYS[1] grant set.
 */
const REVOKE = `
local members = redis.call('SMEMBERS', KEYS[1])
for i = 1, #members do redis.call('DEL', members[i]) end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[2], 'EX', tonumber(ARGV[1]))
return #members
`;

/*
 * Index, then the record it names, in one round trip (issue #6): every interaction page and every
 * session-bound token (userinfo, introspection, refresh) resolves the session by uid. The type checks
 * as in DESTROY: a missing key or field is not false in ioredis-mock.
 */
/** KEYS[1] the session-uid hash; ARGV[1] the session records' prefix. The stored STRING, or nil. */
const FIND_SESSION_BY_UID = `
local id = redis.call('HGET', KEYS[1], '${SESSION_ID_FIELD}')
if type(id) ~= 'string' or id == '' then return nil end
local stored = redis.call('GET', ARGV[1] .. id)
if type(stored) ~= 'string' then return nil end
return stored
`;
/** KEYS[1] a STRING index; ARGV[1] the records' prefix. The record's HGETALL as a flat list (empty when either is gone). */
const FIND_BY_INDEX = `
local id = redis.call('GET', KEYS[1])
if type(id) ~= 'string' or id == '' then return {} end
return redis.call('HGETALL', ARGV[1] .. id)
`;

const SCRIPTS = {
  upsert: defineScript(UPSERT),
  upsertSession: defineScript(UPSERT_SESSION),
  consume: defineScript(CONSUME),
  destroy: defineScript(DESTROY),
  destroySession: defineScript(DESTROY_SESSION),
  revoke: defineScript(REVOKE),
  findSessionByUid: defineScript(FIND_SESSION_BY_UID),
  findByIndex: defineScript(FIND_BY_INDEX),
};

export interface RedisAdapterOptions {
  /** prepended to every key, e.g. `stepup:oidc:` */
  prefix: string;
}

/** expiresIn is undefined for records that never expire (e.g. a dynamically registered Client). */
const ttlOf = (expiresIn?: number) => (typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? Math.ceil(expiresIn) : 0);
const nonEmpty = (v: unknown): string => (typeof v === 'string' && v ? v : '');

export function createRedisAdapterFactory(
  redis: Redis,
  options: RedisAdapterOptions,
): (modelName: string) => Adapter {
  const { prefix } = options;
  const keys = oidcKeys(prefix);
  const revokedGrantKey = (grantId: string) => `${keys.grant(grantId)}:revoked`;
  const userCodeKey = (userCode: string) => `${prefix}userCode:${userCode}`;
  const script = (name: keyof typeof SCRIPTS, numberOfKeys: number, ...args: string[]) => runScript(redis, SCRIPTS[name], numberOfKeys, ...args);

  function sessionAdapter(): Adapter {
    const key = (id: string) => keys.record('Session', id);
    const toPayload = (stored: string | null | undefined): AdapterPayload | undefined => {
      const record = typeof stored === 'string' ? decodeSessionRecord(stored) : undefined;
      return record ? (JSON.parse(record.json) as AdapterPayload) : undefined;
    };
    return {
      async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
        const uid = nonEmpty(payload.uid);
        const accountId = nonEmpty(payload.accountId);
        const sessionKeys = [key(id), ...(uid ? [keys.sessionUid(uid)] : []), ...(accountId ? [keys.account(accountId)] : [])];
        await script('upsertSession', sessionKeys.length, ...sessionKeys, encodeSessionRecord(payload, JSON.stringify(payload)), String(ttlOf(expiresIn)), id, uid ? '1' : '0', accountId ? '1' : '0');
      },
      find: async (id: string) => toPayload(await redis.get(key(id))),
      findByUid: async (uid: string) => toPayload((await script('findSessionByUid', 1, keys.sessionUid(uid), key(''))) as string | null),
      findByUserCode: async () => undefined,
      async consume() {
        // only single-use grant sources are consumed (codes, refresh tokens…), never a session
        throw new errors.InvalidGrant('a session cannot be consumed');
      },
      async destroy(id: string) {
        await script('destroySession', 1, key(id), keys.sessionUid(''), id);
      },
      revokeByGrantId: async () => undefined,
    };
  }

  return (model: string): Adapter => {
    if (model === 'Session') return sessionAdapter();
    const key = (id: string) => keys.record(model, id);
    const grantable = GRANTABLE.has(model);

    function toPayload(data: Record<string, string>): AdapterPayload | undefined {
      if (!data.payload) return undefined; // a missing hash reads back as {}
      const payload = JSON.parse(data.payload) as AdapterPayload;
      if (data.consumed) payload.consumed = Number(data.consumed);
      return payload;
    }

    async function find(id: string): Promise<AdapterPayload | undefined> {
      return toPayload(await redis.hgetall(key(id)));
    }

    return {
      async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
        const grantId = grantable ? nonEmpty(payload.grantId) : '';
        const userCode = nonEmpty(payload.userCode);
        const accountId = ACCOUNT_INDEXED.has(model) ? nonEmpty(payload.accountId) : '';
        const recordKeys = [key(id)];
        if (grantId) recordKeys.push(keys.grant(grantId), revokedGrantKey(grantId));
        if (userCode) recordKeys.push(userCodeKey(userCode));
        if (accountId) recordKeys.push(keys.account(accountId));
        await script(
          'upsert',
          recordKeys.length,
          ...recordKeys,
          JSON.stringify(payload),
          String(ttlOf(expiresIn)),
          id,
          grantId ? '1' : '0',
          userCode ? '1' : '0',
          grantId,
          userCode,
          accountId ? '1' : '0',
          accountId,
          typeof payload.iat === 'number' ? String(payload.iat) : '',
        );
      },

      find,

      findByUid: async () => undefined, // only sessions have a uid

      async findByUserCode(userCode: string) {
        const flat = (await script('findByIndex', 1, userCodeKey(userCode), key(''))) as string[];
        const data: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) data[flat[i]!] = flat[i + 1]!;
        return toPayload(data);
      },

      async consume(id: string) {
        const nowSeconds = Math.floor(Date.now() / 1000);
        const won = await script('consume', 1, key(id), String(nowSeconds), prefix, String(nowSeconds + REVOKED_GRANT_GRACE_SECONDS), String(REVOKED_GRANT_MARKER_SECONDS));
        if (won !== 1) throw new errors.InvalidGrant('grant request is invalid (already consumed or not found)');
      },

      async destroy(id: string) {
        await script('destroy', 1, key(id), prefix, id);
      },

      async revokeByGrantId(grantId: string) {
        await script('revoke', 2, keys.grant(grantId), revokedGrantKey(grantId), String(REVOKED_GRANT_MARKER_SECONDS), String(Math.floor(Date.now() / 1000) + REVOKED_GRANT_GRACE_SECONDS));
      },
    };
  };
}
