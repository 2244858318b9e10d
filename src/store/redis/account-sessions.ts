import type { Redis } from 'ioredis';
import { decodeSessionRecord, oidcKeys, SESSION_ID_FIELD } from './oidc-adapter.js';

/**
 * Ends every oidc-provider session of an account and revokes every grant it gave (with the grant go
 * its refresh tokens, access tokens and codes), and drops the ended sessions' factor events.
 * Used by the admin (revoke sessions, remove or reset factors, disable) and by /account (SPEC §4:
 * removing a factor revokes the user's *other* sessions: `exceptSessionUid`).
 *
 * One Lua script over the account's index (see oidc-adapter.ts), so a token rotated for one of the
 * grants while this runs cannot survive it. Members are checked against the record's own account (a
 * session's second line, a grant's `accountId` field): an index entry can never end another account's
 * session. An ended session's uid hash goes with it: its `i` field and its factor events.
 *
 * KEYS[1] account set. ARGV: oidc prefix, account id, session uid to keep ('' = none), then the record
 * keys of the grants to keep (those of the kept session).
 */
const REVOKE_ACCOUNT = `
local prefix, accountId, exceptUid = ARGV[1], ARGV[2], ARGV[3]
local keep = {}
for i = 4, #ARGV do keep[ARGV[i]] = true end
local function str(v) if type(v) == 'string' and v ~= '' then return v end return nil end
local sessionPrefix = prefix .. 'session:'
local grantPrefix = prefix .. 'Grant:'
local members = redis.call('SMEMBERS', KEYS[1])
local sessions, grants = 0, 0
for i = 1, #members do
  local m = members[i]
  if string.sub(m, 1, #sessionPrefix) == sessionPrefix then
    -- a Session STRING: its uid line, its account line, then the payload
    local stored = str(redis.call('GET', m))
    local uid, owner = nil, nil
    if stored then
      local a = string.find(stored, '\\n', 1, true)
      local b = a and string.find(stored, '\\n', a + 1, true)
      if b then uid, owner = str(string.sub(stored, 1, a - 1)), str(string.sub(stored, a + 1, b - 1)) end
    end
    if owner ~= nil and owner ~= accountId then
      redis.call('SREM', KEYS[1], m)
    elseif not keep[m] and not (uid and uid == exceptUid) then
      if owner then sessions = sessions + 1 end
      redis.call('DEL', m)
      if uid then redis.call('DEL', prefix .. 'session-uid:' .. uid) end
      redis.call('SREM', KEYS[1], m)
    end
  elseif string.sub(m, 1, #grantPrefix) == grantPrefix then
    local owner = str(redis.call('HGET', m, 'accountId'))
    if owner ~= nil and owner ~= accountId then
      redis.call('SREM', KEYS[1], m)
    elseif not keep[m] then
      local set = prefix .. 'grant:' .. string.sub(m, #grantPrefix + 1)
      local tokens = redis.call('SMEMBERS', set)
      for j = 1, #tokens do redis.call('DEL', tokens[j]) end
      redis.call('DEL', set)
      if owner then grants = grants + 1 end
      redis.call('DEL', m)
      redis.call('SREM', KEYS[1], m)
    end
  else
    -- e.g. a session stored before the STRING layout: oidc-provider no longer reads it
    redis.call('SREM', KEYS[1], m)
  end
end
return {sessions, grants}
`;

/**
 * Ends one session of an account (issue #15: the admin's "end this session") and revokes the grants it
 * gave. KEYS[1] account set. ARGV: oidc prefix, account id, session record key, then the grant record
 * keys of that session. The session must be the account's own (its second line), or nothing happens.
 */
const END_SESSION = `
local prefix, accountId, sessionKey = ARGV[1], ARGV[2], ARGV[3]
local stored = redis.call('GET', sessionKey)
if not stored then return 0 end
local a = string.find(stored, '\\n', 1, true)
local b = a and string.find(stored, '\\n', a + 1, true)
if not b then return 0 end
local uid, owner = string.sub(stored, 1, a - 1), string.sub(stored, a + 1, b - 1)
if owner ~= accountId then return 0 end
redis.call('DEL', sessionKey)
if uid ~= '' then redis.call('DEL', prefix .. 'session-uid:' .. uid) end
redis.call('SREM', KEYS[1], sessionKey)
local grantPrefix = prefix .. 'Grant:'
for i = 4, #ARGV do
  local m = ARGV[i]
  if redis.call('HGET', m, 'accountId') == accountId then
    local set = prefix .. 'grant:' .. string.sub(m, #grantPrefix + 1)
    local tokens = redis.call('SMEMBERS', set)
    for j = 1, #tokens do redis.call('DEL', tokens[j]) end
    redis.call('DEL', set)
    redis.call('DEL', m)
    redis.call('SREM', KEYS[1], m)
  end
end
return 1
`;

/** Keeps the device a session was last used from, only while the session's uid hash exists (its TTL is the session's). */
const TOUCH_SESSION = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'd', ARGV[1]) end
return 1
`;

/** Field of the session-uid HASH with the device a session was last used from (issue #15). */
export const SESSION_DEVICE_FIELD = 'd';
const MAX_USER_AGENT = 400;

export interface SessionDevice {
  userAgent: string;
  ip: string;
  /** epoch seconds: the session was last used for a sign-in at an application */
  lastSeen: number;
}

export interface ActiveSession {
  uid: string;
  /** epoch seconds of the session's last login (oidc-provider's loginTs) */
  loginAt?: number;
  expiresAt?: number;
  device?: SessionDevice;
  /** client ids the session signed into */
  clients: string[];
}

export interface RevokeResult {
  sessions: number;
  grants: number;
}

/**
 * @param prefix the deployment's key prefix (REDIS_KEY_PREFIX); oidc-provider's records live under
 *   `${prefix}oidc:`, and session factor events in the session's uid hash there (session-events.ts)
 */
export function createAccountSessions(redis: Redis, prefix: string) {
  const oidcPrefix = `${prefix}oidc:`;
  const keys = oidcKeys(oidcPrefix);
  return {
    async revokeAccountSessions(accountId: string, opts: { exceptSessionUid?: string } = {}): Promise<RevokeResult> {
      const keepGrants: string[] = [];
      if (opts.exceptSessionUid) {
        // the kept session's own grants stay: its relying parties keep their refresh tokens
        const sessionId = await redis.hget(keys.sessionUid(opts.exceptSessionUid), SESSION_ID_FIELD);
        const stored = sessionId ? await redis.get(keys.record('Session', sessionId)) : null;
        const record = stored ? decodeSessionRecord(stored) : undefined;
        const authorizations = record ? ((JSON.parse(record.json) as { authorizations?: Record<string, { grantId?: string }> }).authorizations ?? {}) : {};
        for (const a of Object.values(authorizations)) if (a?.grantId) keepGrants.push(keys.record('Grant', a.grantId));
      }
      const [sessions, grants] = (await redis.eval(
        REVOKE_ACCOUNT,
        1,
        keys.account(accountId),
        oidcPrefix,
        accountId,
        opts.exceptSessionUid ?? '',
        ...keepGrants,
      )) as [number, number];
      return { sessions: Number(sessions), grants: Number(grants) };
    },

    /** Records where a session was just used from (the authorization endpoint, for the admin's session list). */
    async touch(sessionUid: string, device: SessionDevice): Promise<void> {
      const value = JSON.stringify({ ...device, userAgent: device.userAgent.slice(0, MAX_USER_AGENT) });
      await redis.eval(TOUCH_SESSION, 1, keys.sessionUid(sessionUid), value);
    },

    /** The account's live sessions, newest login first. */
    async list(accountId: string): Promise<ActiveSession[]> {
      const sessionPrefix = `${oidcPrefix}session:`;
      const members = (await redis.smembers(keys.account(accountId))).filter((m) => m.startsWith(sessionPrefix));
      if (members.length === 0) return [];
      const stored = await redis.mget(...members);
      const sessions: ActiveSession[] = [];
      for (const raw of stored) {
        const record = raw ? decodeSessionRecord(raw) : undefined;
        if (!record || record.accountId !== accountId || !record.uid) continue;
        const payload = JSON.parse(record.json) as { loginTs?: number; exp?: number; authorizations?: Record<string, unknown> };
        const device = await redis.hget(keys.sessionUid(record.uid), SESSION_DEVICE_FIELD);
        sessions.push({
          uid: record.uid,
          loginAt: payload.loginTs,
          expiresAt: payload.exp,
          device: device ? (JSON.parse(device) as SessionDevice) : undefined,
          clients: Object.keys(payload.authorizations ?? {}),
        });
      }
      return sessions.sort((a, b) => (b.loginAt ?? 0) - (a.loginAt ?? 0));
    },

    /** Ends one session of the account (and the grants it gave); false when it is not the account's or is gone. */
    async end(accountId: string, sessionUid: string): Promise<boolean> {
      const sessionId = await redis.hget(keys.sessionUid(sessionUid), SESSION_ID_FIELD);
      if (!sessionId) return false;
      const sessionKey = keys.record('Session', sessionId);
      const stored = await redis.get(sessionKey);
      const record = stored ? decodeSessionRecord(stored) : undefined;
      if (!record || record.accountId !== accountId) return false;
      const authorizations = (JSON.parse(record.json) as { authorizations?: Record<string, { grantId?: string }> }).authorizations ?? {};
      const grantKeys = Object.values(authorizations).flatMap((a) => (a?.grantId ? [keys.record('Grant', a.grantId)] : []));
      const ended = await redis.eval(END_SESSION, 1, keys.account(accountId), oidcPrefix, accountId, sessionKey, ...grantKeys);
      return Number(ended) === 1;
    },
  };
}

export type AccountSessions = ReturnType<typeof createAccountSessions>;
