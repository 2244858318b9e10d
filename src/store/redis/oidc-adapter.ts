import type { RedisClient } from './client.js';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { defineScript, runScript } from './scripts.js';
import { deleteEach, hashTag, isCluster } from './hash-tags.js';
import { currentRequest, dropKept, keepForRequest, progressEntry, takeKept } from './request-reads.js';

/**
 * oidc-provider's storage for every short-lived model (sessions, interactions, codes, tokens, grants…)
 * in Redis.
 *
 * Layout (full keys are built here, no ioredis keyPrefix: keys stored as values, e.g. grant-set members,
 * would otherwise be prefixed inconsistently). `{…}` is a Redis Cluster hash tag: only the part inside
 * the braces picks the slot, so the keys of one entity always share a slot, whatever the topology.
 * - `${prefix}${model}:{id}`: one HASH per record, for every model but Session. Field `payload` holds
 *   the JSON payload, `consumed` the epoch seconds of consumption. The fields `grantId`, `userCode` and
 *   `accountId` copy the indexed values, so destroy() finds the index entries to clean without parsing
 *   the JSON (the in-process store has no cjson); `sessionUid`, for a token that expires with its
 *   session, lets one script read the token with its Grant and session (issue #20). The same layout for all these models means consume()
 *   works on every consumable model, PushedAuthorizationRequest and PreAuthorizedCode included (the old
 *   upstream example stored those as STRINGs: WRONGTYPE on the first PAR consume).
 *   Tag: the record id, the only thing oidc-provider gives find() and consume().
 * - `${prefix}session:{id}`: a Session is a STRING, `<uid>\n<accountId>\n<payload JSON>` (issue #6:
 *   Redis memory per active session). Its JSON is longer than Redis's 64-byte limit for compact hashes,
 *   so as a HASH it was stored as a full hash table (about 860 bytes a session, 550 as a STRING). The
 *   two lines in front are what destroy() and account revocation read; sessions are never consumed.
 *   Tag: the session id (the cookie names nothing else).
 * - `${prefix}session-uid:{uid}`: a small HASH (compact encoding) for the session's stable uid: field
 *   `i` is the current session id (findByUid), and session-events.ts keeps the session's factor events
 *   beside it, so a session costs two keys, not three. Tag: the uid (the id rotates at each login).
 * - `${prefix}grant:{grantId}`: SET of the record keys of a grant, for revokeByGrantId(), and
 *   `${prefix}grant:{grantId}:revoked`, the moment of the grant's last revocation (see REVOKE). Tag: the
 *   grant id, shared with the Grant record `${prefix}Grant:{grantId}`, so one script ends a grant whole.
 * - `${prefix}userCode:{userCode}`: STRING -> record id. Tag: the user code (the only thing the device
 *   page knows).
 * - `${prefix}account:{accountId}`: SET of the record keys of an account's Sessions and Grants, so
 *   revokeAccountSessions() (account-sessions.ts) can end every session and refresh token of one
 *   account. Members whose record is gone are skipped there; the set's TTL follows the grant set's rule.
 *   Tag: the account id.
 *
 * Every Lua script touches the keys of one tag only (issue #18: on Redis Cluster a script's keys must
 * share a slot), and names them all in KEYS. A change that spans entities (a token and its grant's set,
 * a session and its uid and account indexes) is a sequence of such scripts, ordered so that an
 * interruption anywhere fails closed:
 * - a record is written before it joins an index, and leaves the index after it is deleted, so an
 *   index never misses a live record (a revocation that runs in between sees the record as not yet
 *   saved; the save has not returned, so no client holds its id);
 * - a token joining its grant's set checks the grant's revocation marker in the same script, and the
 *   adapter deletes the record again when the grant was revoked meanwhile;
 * - oidc-provider also loads the Grant at every use of a token (grant_source.js, shared/access_token.js,
 *   introspection.js), so a token whose Grant record is gone is refused even before its record is.
 * ioredis-mock (the embedded default) runs the same scripts; it has no EVAL inside MULTI and ignores the
 * GT/NX options of EXPIRE, so "EXPIRE … GT" is not relied on.
 */


/** Key layout shared with account-sessions.ts and session-events.ts (see the layout above). */
export const oidcKeys = (prefix: string) => ({
  record: (model: string, id: string) => (model === 'Session' ? `${prefix}session:${hashTag(id)}` : `${prefix}${model}:${hashTag(id)}`),
  grant: (grantId: string) => `${prefix}grant:${hashTag(grantId)}`,
  revokedGrant: (grantId: string) => `${prefix}grant:${hashTag(grantId)}:revoked`,
  sessionUid: (uid: string) => `${prefix}session-uid:${hashTag(uid)}`,
  account: (accountId: string) => `${prefix}account:${hashTag(accountId)}`,
  userCode: (userCode: string) => `${prefix}userCode:${hashTag(userCode)}`,
  /** the prefixes account revocation tells its members apart by */
  sessionRecordPrefix: `${prefix}session:`,
  sessionUidPrefix: `${prefix}session-uid:`,
  grantRecordPrefix: `${prefix}Grant:`,
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
 * §4.1.2) is refused by ADMIT_TO_GRANT instead of outliving the revocation. That window is
 * milliseconds; the marker outlives it generously and then goes, so it costs nothing for long.
 */
export const REVOKED_GRANT_MARKER_SECONDS = 600;
/**
 * oidc-provider sets a token's iat when it saves it, so "minted before the revocation" is read as "iat
 * no later than a second after it": a token saved up to 1–2 s after its grant was revoked is refused.
 * A new authorization reusing the grant (after only an access token was revoked) mints later than that.
 */
const REVOKED_GRANT_GRACE_SECONDS = 1;
export const revokedAtNow = () => String(Math.floor(Date.now() / 1000) + REVOKED_GRANT_GRACE_SECONDS);

/** Models oidc-provider revokes by grant (lib/helpers/revoke.js); the same list as its memory adapter. */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/** Models indexed per account, so every session and grant (refresh tokens) of an account can be revoked. */
export const ACCOUNT_INDEXED = new Set(['Session', 'Grant']);

/*
 * Adds a record key to an index set (grant set, account set) that must never expire before a member,
 * else revoking would miss a live record: its TTL is only ever raised to the new member's TTL, and it is
 * made persistent for a member without expiry. The TTL is read and changed in the same script: read
 * outside (as the old upstream example did) a concurrent upsert could lower it in between.
 * Expects `ttl` and `record` in scope.
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
 * Tag: the record. Upsert replaces the record: DEL first, so a stale `consumed` (or stale field)
 * cannot survive. KEYS[1] record; ARGV: payload JSON, ttl seconds ('0' = no expiry), then the indexed
 * values copied into the hash ('' = none): grantId, userCode, accountId, and sessionUid (the session
 * a token expires with, which FIND_TOKEN_ON_ONE_SERVER reads along).
 */
const UPSERT_RECORD = `
local ttl = tonumber(ARGV[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'grantId', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'userCode', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'accountId', ARGV[5]) end
if ARGV[6] ~= nil and ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'sessionUid', ARGV[6]) end
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
`;

/*
 * Tag: the grant. A token joins its grant's set, unless the grant was revoked after the token was
 * minted (see REVOKED_GRANT_MARKER_SECONDS): then 0, and the adapter deletes the record it just wrote.
 * KEYS[1] grant set, KEYS[2] its revocation marker; ARGV: record key, ttl seconds, the token's iat ('').
 */
const ADMIT_TO_GRANT = `
local record, ttl = ARGV[1], tonumber(ARGV[2])
${MEMBER_LUA}
local revokedAt = tonumber(redis.call('GET', KEYS[2]) or '')
local iat = tonumber(ARGV[3])
if revokedAt ~= nil and (iat == nil or iat <= revokedAt) then return 0 end
member(KEYS[1])
return 1
`;

/* Tag: the account (or any index set). KEYS[1] the set; ARGV: record key, ttl seconds. */
const ADD_MEMBER = `
local record, ttl = ARGV[1], tonumber(ARGV[2])
${MEMBER_LUA}
member(KEYS[1])
return 1
`;

/*
 * Tag: the uid. The session's uid hash names the current session id, with the session's TTL. Only the
 * `i` field is written: the factor events beside it (session-events.ts) are kept.
 * KEYS[1] uid hash; ARGV: session id, ttl seconds ('0' = no expiry).
 */
const POINT_UID_AT_SESSION = `
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], '${SESSION_ID_FIELD}', ARGV[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return 1
`;

/*
 * Tag: the uid. Compare-and-delete: resume rotates a session's id (destroy(old), upsert(new) with the
 * same uid) and the two can race, so a late destroy(old) must not remove the `i` that already names
 * the new id. The factor events beside it stay: they belong to the uid, and logout or revocation
 * removes them (session-events.ts, account-sessions.ts). KEYS[1] uid hash; ARGV[1] the destroyed id.
 */
const UNPOINT_UID = `
if redis.call('HGET', KEYS[1], '${SESSION_ID_FIELD}') == ARGV[1] then redis.call('HDEL', KEYS[1], '${SESSION_ID_FIELD}') end
return 1
`;

/*
 * Tag: the record. oidc-provider reads `consumed`, then calls consume() and ignores its result
 * (helpers/grant_common.js consumeGrantSource, actions/grants/refresh_token.js): with a plain HSET two
 * parallel redemptions of one code both pass the check and both mint tokens (verified double-spend).
 * Only one caller can win this script; consume() throws for the losers, before any token exists.
 * EXISTS first: HSETNX on a missing (expired, revoked) key would create a payload-less hash.
 * KEYS[1] record; ARGV[1] now. {1} won; {0} gone; {0, grantId} a second use (the adapter revokes).
 */
const CONSUME = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
if redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1]) == 1 then return {1} end
local grantId = redis.call('HGET', KEYS[1], 'grantId')
if type(grantId) == 'string' and grantId ~= '' then return {0, grantId} end
return {0}
`;

/*
 * Tag: the record. Deletes it and returns the indexed values, for the adapter to clean the indexes.
 * HMGET of a missing field is false on Redis but a null userdata (truthy) in ioredis-mock, hence the
 * type check. KEYS[1] record. {grantId, userCode}, '' for none.
 */
const DESTROY_RECORD = `
local function str(v) if type(v) == 'string' then return v end return '' end
local f = redis.call('HMGET', KEYS[1], 'grantId', 'userCode')
redis.call('DEL', KEYS[1])
return {str(f[1]), str(f[2])}
`;

/* Tag: the grant (or any index set). KEYS[1] the set; ARGV[1] the member. An emptied set goes. */
const REMOVE_MEMBER = `
redis.call('SREM', KEYS[1], ARGV[1])
if redis.call('SCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return 1
`;

/*
 * Tag: the user code. The index is compare-and-deleted, so a late destroy never removes an index that
 * already names a newer record. KEYS[1] index; ARGV[1] the destroyed record's id.
 */
const COMPARE_AND_DELETE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

/*
 * Tag: the grant. Marks the grant revoked, then takes its set: members and set go in one script, so a
 * token admitted to the set meanwhile is either in the list returned (and deleted by the adapter) or
 * refused by the marker (ADMIT_TO_GRANT). Left-over userCode indexes point at deleted records
 * (findByUserCode -> undefined) and expire with them.
 * KEYS[1] grant set, KEYS[2] its revocation marker; ARGV: marker seconds, revokedAt. The members.
 */
const REVOKE = `
redis.call('SET', KEYS[2], ARGV[2], 'EX', tonumber(ARGV[1]))
local members = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return members
`;

/*
 * One server only (a single Redis, a Sentinel master, the in-process store), never on a Cluster: the
 * index, then the record it names, in one round trip (issue #6): every interaction page and every
 * session-bound token (userinfo, introspection, refresh) resolves the session by uid. It reads a key
 * of another tag than its KEYS, which only a single server allows; a read needs no atomicity, so on a
 * Cluster findByUid sends the two reads one after the other instead. The type checks: a missing key
 * or field is not false in ioredis-mock.
 * KEYS[1] the session-uid hash; ARGV[1] the session records' prefix (the tag escaped as hashTag does).
 */
const FIND_SESSION_BY_UID_ON_ONE_SERVER = `
local id = redis.call('HGET', KEYS[1], '${SESSION_ID_FIELD}')
if type(id) ~= 'string' or id == '' then return nil end
local tag = string.gsub(id, '[%%{}]', function(c) return string.format('%%%02X', string.byte(c)) end)
local stored = redis.call('GET', ARGV[1] .. '{' .. tag .. '}')
if type(stored) ~= 'string' then return nil end
return stored
`;

/*
 * One server only, like the script above. Issue #20: oidc-provider reads a token (refresh token, access
 * token, code), then its Grant (validateGrant, loadAccessTokenGrant, introspection), and for a token
 * that expires with its session the Session by uid (checkSessionBinding): three round trips, one after
 * the other. This reads the token's record and, when it names them (fields `grantId`, `sessionUid`),
 * its Grant record and its session in one; the adapter keeps the two for the rest of the request
 * (request-reads.ts). A read needs no atomicity, so on a Cluster the three reads stay apart.
 * KEYS[1] the token's record; ARGV: the Grant records' prefix, the session-uid hashes' prefix, the
 * session records' prefix. {record fields, grant fields or {}, session record or false}.
 */
const FIND_TOKEN_ON_ONE_SERVER = `
local function tagged(prefix, id)
  return prefix .. '{' .. string.gsub(id, '[%%{}]', function(c) return string.format('%%%02X', string.byte(c)) end) .. '}'
end
local record = redis.call('HGETALL', KEYS[1])
local grantId, uid
for i = 1, #record, 2 do
  if record[i] == 'grantId' then grantId = record[i + 1] elseif record[i] == 'sessionUid' then uid = record[i + 1] end
end
local grant = {}
if type(grantId) == 'string' and grantId ~= '' then grant = redis.call('HGETALL', tagged(ARGV[1], grantId)) end
local session = false
if type(uid) == 'string' and uid ~= '' then
  local id = redis.call('HGET', tagged(ARGV[2], uid), '${SESSION_ID_FIELD}')
  if type(id) == 'string' and id ~= '' then
    local stored = redis.call('GET', tagged(ARGV[3], id))
    if type(stored) == 'string' then session = stored end
  end
end
return {record, grant, session}
`;

/*
 * One server only, like the scripts above. Issue #20: every interaction request reads its Interaction
 * and then its progress (a key of stepup's own, interactions/progress.ts): one round trip for both,
 * the progress kept for the request (request-reads.ts). KEYS[1] the Interaction record; ARGV[1] the
 * progress key. {record fields, progress or false}.
 */
const FIND_INTERACTION_ON_ONE_SERVER = `
local progress = redis.call('GET', ARGV[1])
if type(progress) ~= 'string' then progress = false end
return {redis.call('HGETALL', KEYS[1]), progress}
`;

const SCRIPTS = {
  findInteractionOnOneServer: defineScript(FIND_INTERACTION_ON_ONE_SERVER),
  findSessionByUidOnOneServer: defineScript(FIND_SESSION_BY_UID_ON_ONE_SERVER),
  findTokenOnOneServer: defineScript(FIND_TOKEN_ON_ONE_SERVER),
  upsertRecord: defineScript(UPSERT_RECORD),
  admitToGrant: defineScript(ADMIT_TO_GRANT),
  addMember: defineScript(ADD_MEMBER),
  pointUidAtSession: defineScript(POINT_UID_AT_SESSION),
  unpointUid: defineScript(UNPOINT_UID),
  consume: defineScript(CONSUME),
  destroyRecord: defineScript(DESTROY_RECORD),
  removeMember: defineScript(REMOVE_MEMBER),
  compareAndDelete: defineScript(COMPARE_AND_DELETE),
  revoke: defineScript(REVOKE),
};

/** Ends every token of a grant (see REVOKE); a grant whose tokens are already gone costs one script. */
export async function revokeGrantTokens(redis: RedisClient, keys: ReturnType<typeof oidcKeys>, grantId: string): Promise<void> {
  const members = (await runScript(redis, SCRIPTS.revoke, 2, keys.grant(grantId), keys.revokedGrant(grantId), String(REVOKED_GRANT_MARKER_SECONDS), revokedAtNow())) as string[];
  await deleteEach(redis, members);
}

export interface RedisAdapterOptions {
  /** prepended to every key, e.g. `stepup:oidc:` */
  prefix: string;
  /**
   * Issue #20: the key of an interaction's progress (interactions/progress.ts), read along with the
   * Interaction on one server and kept for the request as `ix:<uid>`.
   */
  progressKey?: (uid: string) => string;
}

const grantEntry = (grantId: string) => `Grant:${grantId}`;
const sessionEntry = (uid: string) => `uid:${uid}`;
const dropKeptSessions = () => dropKept((e) => e.startsWith('uid:'));

const hasField = (flat: string[], field: string) => flat.some((v, i) => i % 2 === 0 && v === field);

/** A HASH record's fields (HGETALL's reply as an object, or its flat array form from a script). */
function hashPayload(data: Record<string, string> | string[]): AdapterPayload | undefined {
  const fields: Record<string, string> = Array.isArray(data) ? {} : data;
  if (Array.isArray(data)) for (let i = 0; i + 1 < data.length; i += 2) fields[data[i]!] = data[i + 1]!;
  if (!fields.payload) return undefined; // a missing hash reads back as {}
  const payload = JSON.parse(fields.payload) as AdapterPayload;
  if (fields.consumed) payload.consumed = Number(fields.consumed);
  return payload;
}

/** expiresIn is undefined for records that never expire (e.g. a dynamically registered Client). */
const ttlOf = (expiresIn?: number) => (typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? Math.ceil(expiresIn) : 0);
const nonEmpty = (v: unknown): string => (typeof v === 'string' && v ? v : '');

export function createRedisAdapterFactory(
  redis: RedisClient,
  options: RedisAdapterOptions,
): (modelName: string) => Adapter {
  const { prefix } = options;
  const keys = oidcKeys(prefix);
  const script = (name: keyof typeof SCRIPTS, numberOfKeys: number, ...args: string[]) => runScript(redis, SCRIPTS[name], numberOfKeys, ...args);
  const addMember = (set: string, record: string, ttl: number) => script('addMember', 1, set, record, String(ttl));

  function sessionAdapter(): Adapter {
    const key = (id: string) => keys.record('Session', id);
    const toPayload = (stored: string | null | undefined): AdapterPayload | undefined => {
      const record = typeof stored === 'string' ? decodeSessionRecord(stored) : undefined;
      return record ? (JSON.parse(record.json) as AdapterPayload) : undefined;
    };
    return {
      async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
        dropKeptSessions();
        const uid = nonEmpty(payload.uid);
        const accountId = nonEmpty(payload.accountId);
        const ttl = ttlOf(expiresIn);
        const value = encodeSessionRecord(payload, JSON.stringify(payload));
        // the record first: findByUid never reads an `i` naming a session not yet written
        await (ttl > 0 ? redis.set(key(id), value, 'EX', ttl) : redis.set(key(id), value));
        await Promise.all([
          uid ? script('pointUidAtSession', 1, keys.sessionUid(uid), id, String(ttl)) : undefined,
          accountId ? addMember(keys.account(accountId), key(id), ttl) : undefined,
        ]);
      },
      find: async (id: string) => toPayload(await redis.get(key(id))),
      async findByUid(uid: string) {
        const kept = takeKept<AdapterPayload>(sessionEntry(uid));
        if (kept !== undefined) return kept ?? undefined;
        if (!isCluster(redis)) {
          return toPayload((await script('findSessionByUidOnOneServer', 1, keys.sessionUid(uid), keys.sessionRecordPrefix)) as string | null);
        }
        const id = await redis.hget(keys.sessionUid(uid), SESSION_ID_FIELD);
        return id ? toPayload(await redis.get(key(id))) : undefined;
      },
      findByUserCode: async () => undefined,
      async consume() {
        // only single-use grant sources are consumed (codes, refresh tokens…), never a session
        throw new errors.InvalidGrant('a session cannot be consumed');
      },
      async destroy(id: string) {
        dropKeptSessions();
        const stored = await redis.getdel(key(id));
        const uid = typeof stored === 'string' ? decodeSessionRecord(stored)?.uid : undefined;
        if (uid) await script('unpointUid', 1, keys.sessionUid(uid), id);
      },
      revokeByGrantId: async () => undefined,
    };
  }

  return (model: string): Adapter => {
    if (model === 'Session') return sessionAdapter();
    const key = (id: string) => keys.record(model, id);
    const grantable = GRANTABLE.has(model);

    const sessionToPayload = (stored: string | null | undefined): AdapterPayload | null => {
      const record = typeof stored === 'string' ? decodeSessionRecord(stored) : undefined;
      return record ? (JSON.parse(record.json) as AdapterPayload) : null;
    };

    async function find(id: string): Promise<AdapterPayload | undefined> {
      if (model === 'Grant') {
        const kept = takeKept<AdapterPayload>(grantEntry(id));
        if (kept !== undefined) return kept ?? undefined;
      }
      if (model === 'Interaction' && options.progressKey && !isCluster(redis) && currentRequest()) {
        const [record, progress] = (await script('findInteractionOnOneServer', 1, key(id), options.progressKey(id))) as [string[], string | null | false];
        const payload = hashPayload(record);
        if (payload) keepForRequest(progressEntry(id), typeof progress === 'string' ? progress : null);
        return payload;
      }
      if (grantable && !isCluster(redis) && currentRequest()) {
        const [record, grant, session] = (await script('findTokenOnOneServer', 1, key(id), keys.grantRecordPrefix, keys.sessionUidPrefix, keys.sessionRecordPrefix)) as [string[], string[], string | null];
        const payload = hashPayload(record);
        if (payload) {
          if (typeof payload.grantId === 'string' && payload.grantId) keepForRequest(grantEntry(payload.grantId), hashPayload(grant) ?? null);
          if (typeof payload.sessionUid === 'string' && payload.sessionUid && payload.expiresWithSession && hasField(record, 'sessionUid')) {
            // only when the record names its session (records saved before issue #20 do not): then the script read it
            keepForRequest(sessionEntry(payload.sessionUid), sessionToPayload(session));
          }
        }
        return payload;
      }
      return hashPayload(await redis.hgetall(key(id)));
    }

    return {
      async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
        if (model === 'Grant') dropKept((e) => e === grantEntry(id));
        const grantId = grantable ? nonEmpty(payload.grantId) : '';
        const userCode = nonEmpty(payload.userCode);
        const accountId = ACCOUNT_INDEXED.has(model) ? nonEmpty(payload.accountId) : '';
        const sessionUid = grantable && payload.expiresWithSession ? nonEmpty(payload.sessionUid) : '';
        const ttl = ttlOf(expiresIn);
        const record = key(id);
        await script('upsertRecord', 1, record, JSON.stringify(payload), String(ttl), grantId, userCode, accountId, sessionUid);
        const [admitted] = await Promise.all([
          grantId ? script('admitToGrant', 2, keys.grant(grantId), keys.revokedGrant(grantId), record, String(ttl), typeof payload.iat === 'number' ? String(payload.iat) : '') : 1,
          userCode ? (ttl > 0 ? redis.set(keys.userCode(userCode), id, 'EX', ttl) : redis.set(keys.userCode(userCode), id)) : undefined,
          accountId ? addMember(keys.account(accountId), record, ttl) : undefined,
        ]);
        // minted before its grant was revoked: the client holds a token that finds nothing
        if (admitted !== 1) await redis.del(record);
      },

      find,

      findByUid: async () => undefined, // only sessions have a uid

      async findByUserCode(userCode: string) {
        const id = await redis.get(keys.userCode(userCode));
        return id ? find(id) : undefined;
      },

      async consume(id: string) {
        const [won, grantId] = (await script('consume', 1, key(id), String(Math.floor(Date.now() / 1000)))) as [number, string?];
        if (won === 1) return;
        // A second use of a single-use grant source (a replayed code or refresh token). RFC 6749 §4.1.2:
        // revoke what the grant issued. oidc-provider does so only when it reads 'consumed' before calling
        // consume(); a replay racing the first use reads it unset and lands here, so it is revoked here too.
        if (grantId) await revokeGrantTokens(redis, keys, grantId);
        throw new errors.InvalidGrant('grant request is invalid (already consumed or not found)');
      },

      async destroy(id: string) {
        if (model === 'Grant') dropKept((e) => e === grantEntry(id));
        const [grantId, userCode] = (await script('destroyRecord', 1, key(id))) as [string, string];
        await Promise.all([
          grantId ? script('removeMember', 1, keys.grant(grantId), key(id)) : undefined,
          userCode ? script('compareAndDelete', 1, keys.userCode(userCode), id) : undefined,
        ]);
      },

      async revokeByGrantId(grantId: string) {
        dropKept((e) => e === grantEntry(grantId));
        await revokeGrantTokens(redis, keys, grantId);
      },
    };
  };
}
