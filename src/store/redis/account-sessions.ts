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
  };
}

export type AccountSessions = ReturnType<typeof createAccountSessions>;
