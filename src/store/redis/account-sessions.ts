import type { RedisClient } from './client.js';
import { deleteEach, getEach } from './hash-tags.js';
import { decodeSessionRecord, oidcKeys, REVOKED_GRANT_MARKER_SECONDS, revokedAtNow, SESSION_ID_FIELD } from './oidc-adapter.js';
import { defineScript, runScript } from './scripts.js';

/**
 * Ends every oidc-provider session of an account and revokes every grant it gave (with the grant go
 * its refresh tokens, access tokens and codes), and drops the ended sessions' factor events.
 * Used by the admin (revoke sessions, remove or reset factors, disable) and by /account (SPEC §4:
 * removing a factor revokes the user's *other* sessions: `exceptSessionUid`).
 *
 * The account's index (see oidc-adapter.ts) names records of many slots, so this is one script per
 * member, each on its member's own tag (issue #18: Redis Cluster), then the clean-up of what the member
 * pointed at. Members are checked against the record's own account (a session's second line, a grant's
 * `accountId` field): an index entry can never end another account's session. A member leaves the
 * index only after its record is gone, so an interrupted revocation can simply be run again.
 * A token rotated for one of the grants while this runs cannot survive it: the grant's revocation
 * marker refuses it (oidc-adapter.ts ADMIT_TO_GRANT), and its Grant record is already gone, which
 * oidc-provider checks at every use.
 */

/*
 * Tag: the session. KEYS[1] the session STRING (its uid line, its account line, then the payload);
 * ARGV: account id, session uid to keep ('' = none).
 * {'foreign'} another account's; {'kept'} the kept one; {'ended', uid, counted} ended ('0' when the
 * record was already gone or named no account).
 */
const END_SESSION = defineScript(`
local function str(v) if type(v) == 'string' and v ~= '' then return v end return nil end
local stored = str(redis.call('GET', KEYS[1]))
local uid, owner = nil, nil
if stored then
  local a = string.find(stored, '\\n', 1, true)
  local b = a and string.find(stored, '\\n', a + 1, true)
  if b then uid, owner = str(string.sub(stored, 1, a - 1)), str(string.sub(stored, a + 1, b - 1)) end
end
if owner ~= nil and owner ~= ARGV[1] then return {'foreign'} end
if uid and uid == ARGV[2] then return {'kept'} end
redis.call('DEL', KEYS[1])
local counted = '0'
if owner then counted = '1' end
return {'ended', uid or '', counted}
`);

/*
 * Tag: the grant. The Grant record, its token set and revocation marker in one script (oidc-adapter.ts
 * REVOKE). KEYS[1] Grant record, KEYS[2] grant set, KEYS[3] marker; ARGV: account id, marker seconds,
 * revokedAt. {'foreign'}, or {'revoked', counted, {token keys…}}.
 */
const END_GRANT = defineScript(`
local owner = redis.call('HGET', KEYS[1], 'accountId')
if type(owner) ~= 'string' or owner == '' then owner = nil end
if owner ~= nil and owner ~= ARGV[1] then return {'foreign'} end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[3], ARGV[3], 'EX', tonumber(ARGV[2]))
local members = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2])
local counted = '0'
if owner then counted = '1' end
return {'revoked', counted, members}
`);

/**
 * Keeps the device a session was last used from, only while the session's uid hash exists (its TTL is
 * the session's). Three short fields rather than one JSON value: Redis keeps the hash in its compact
 * listpack encoding only while every value is at most 64 bytes (hash-max-listpack-value), and a raw
 * User-Agent (often 120+ bytes) turned it into a full hashtable, about 400 B more per session (issue #6's
 * ≤ 1 KiB per session, measured again by issue #20's bench).
 */
/* Tag: the uid. KEYS[1] the session's uid hash; ARGV[1] the description, ARGV[2] the IP, ARGV[3] last seen. */
const TOUCH_SESSION = defineScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'dd', ARGV[1], 'di', ARGV[2], 'dt', ARGV[3])
end
return 1
`);

/** Fields of the session-uid HASH with the device a session was last used from (issue #15). */
export const SESSION_DEVICE_FIELDS = { description: 'dd', ip: 'di', lastSeen: 'dt' } as const;
/** each value stays within hash-max-listpack-value (64 bytes); an IPv6 address is at most 45 characters */
const MAX_DEVICE_FIELD_BYTES = 64;
const cut = (v: string) => (Buffer.byteLength(v) <= MAX_DEVICE_FIELD_BYTES ? v : `${Buffer.from(v).subarray(0, MAX_DEVICE_FIELD_BYTES - 3).toString().replace(/\uFFFD$/, '')}…`);

export interface SessionDevice {
  /** the browser and OS, already made readable ("Chrome 156 on Linux"): the raw User-Agent is not kept */
  description: string;
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
export function createAccountSessions(redis: RedisClient, prefix: string) {
  const keys = oidcKeys(`${prefix}oidc:`);
  const script = <T>(s: typeof END_SESSION, ...args: [number, ...string[]]) => runScript(redis, s, ...args) as Promise<T>;

  /** The record keys of the grants the kept session gave: its relying parties keep their refresh tokens. */
  async function grantsOf(sessionUid: string): Promise<Set<string>> {
    const sessionId = await redis.hget(keys.sessionUid(sessionUid), SESSION_ID_FIELD);
    const stored = sessionId ? await redis.get(keys.record('Session', sessionId)) : null;
    const record = stored ? decodeSessionRecord(stored) : undefined;
    const authorizations = record ? ((JSON.parse(record.json) as { authorizations?: Record<string, { grantId?: string }> }).authorizations ?? {}) : {};
    return new Set(Object.values(authorizations).flatMap((a) => (a?.grantId ? [keys.record('Grant', a.grantId)] : [])));
  }

  /** Ends one member of the account's index; true when it counts (a record of this account was ended). */
  async function endMember(member: string, accountId: string, exceptUid: string, keep: Set<string>): Promise<{ kind: 'session' | 'grant' | 'other'; counted: boolean; leaves: boolean }> {
    if (member.startsWith(keys.sessionRecordPrefix)) {
      const [outcome, uid, counted] = await script<[string, string?, string?]>(END_SESSION, 1, member, accountId, exceptUid);
      if (outcome === 'kept') return { kind: 'session', counted: false, leaves: false };
      // an ended session's uid hash goes with it: its `i` field and its factor events
      if (outcome === 'ended' && uid) await redis.del(keys.sessionUid(uid));
      return { kind: 'session', counted: outcome === 'ended' && counted === '1', leaves: true };
    }
    if (member.startsWith(keys.grantRecordPrefix)) {
      if (keep.has(member)) return { kind: 'grant', counted: false, leaves: false };
      const tag = member.slice(keys.grantRecordPrefix.length); // `{grantId}`, escaped as in the record key
      const grantSet = `${prefix}oidc:grant:${tag}`;
      const [outcome, counted, tokens] = await script<[string, string?, string[]?]>(END_GRANT, 3, member, grantSet, `${grantSet}:revoked`, accountId, String(REVOKED_GRANT_MARKER_SECONDS), revokedAtNow());
      if (outcome === 'revoked') await deleteEach(redis, tokens ?? []);
      return { kind: 'grant', counted: outcome === 'revoked' && counted === '1', leaves: true };
    }
    // e.g. a session stored before the current layout: oidc-provider no longer reads it
    return { kind: 'other', counted: false, leaves: true };
  }

  return {
    async revokeAccountSessions(accountId: string, opts: { exceptSessionUid?: string } = {}): Promise<RevokeResult> {
      const exceptUid = opts.exceptSessionUid ?? '';
      const keep = exceptUid ? await grantsOf(exceptUid) : new Set<string>();
      const index = keys.account(accountId);
      const members = await redis.smembers(index);
      const ended = await Promise.all(members.map((m) => endMember(m, accountId, exceptUid, keep)));
      const leaving = members.filter((_, i) => ended[i]!.leaves);
      if (leaving.length) await redis.srem(index, ...leaving);
      return {
        sessions: ended.filter((e) => e.kind === 'session' && e.counted).length,
        grants: ended.filter((e) => e.kind === 'grant' && e.counted).length,
      };
    },

    /** Records where a session was just used from (the authorization endpoint, for the admin's session list). */
    async touch(sessionUid: string, device: SessionDevice): Promise<void> {
      await runScript(redis, TOUCH_SESSION, 1, keys.sessionUid(sessionUid), cut(device.description), cut(device.ip), String(device.lastSeen));
    },

    /** The account's live sessions, newest login first. */
    async list(accountId: string): Promise<ActiveSession[]> {
      const members = (await redis.smembers(keys.account(accountId))).filter((m) => m.startsWith(keys.sessionRecordPrefix));
      // the records are of many slots: one MGET on one server, a GET each on a Cluster
      const stored = await getEach(redis, members);
      const records = stored.flatMap((raw) => {
        const record = raw ? decodeSessionRecord(raw) : undefined;
        return record && record.accountId === accountId && record.uid ? [record] : [];
      });
      const { description, ip, lastSeen } = SESSION_DEVICE_FIELDS;
      const devices = await Promise.all(records.map((r) => redis.hmget(keys.sessionUid(r.uid), description, ip, lastSeen)));
      return records
        .map((record, i) => {
          const payload = JSON.parse(record.json) as { loginTs?: number; exp?: number; authorizations?: Record<string, unknown> };
          const [deviceDescription, deviceIp, deviceLastSeen] = devices[i] ?? [];
          return {
            uid: record.uid,
            loginAt: payload.loginTs,
            expiresAt: payload.exp,
            device: deviceDescription != null && deviceLastSeen != null ? { description: deviceDescription, ip: deviceIp ?? '', lastSeen: Number(deviceLastSeen) } : undefined,
            clients: Object.keys(payload.authorizations ?? {}),
          };
        })
        .sort((a, b) => (b.loginAt ?? 0) - (a.loginAt ?? 0));
    },

    /**
     * Ends one session of the account (issue #15: the admin's "end this session") and revokes the grants
     * it gave; false when it is not the account's or is gone. The session first, then each grant, each
     * on its own slot, then the index entries (as revokeAccountSessions).
     */
    async end(accountId: string, sessionUid: string): Promise<boolean> {
      const sessionId = await redis.hget(keys.sessionUid(sessionUid), SESSION_ID_FIELD);
      if (!sessionId) return false;
      const sessionKey = keys.record('Session', sessionId);
      const stored = await redis.get(sessionKey);
      const record = stored ? decodeSessionRecord(stored) : undefined;
      if (!record || record.accountId !== accountId) return false;
      const authorizations = (JSON.parse(record.json) as { authorizations?: Record<string, { grantId?: string }> }).authorizations ?? {};
      const grantKeys = Object.values(authorizations).flatMap((a) => (a?.grantId ? [keys.record('Grant', a.grantId)] : []));
      const ended = await endMember(sessionKey, accountId, '', new Set());
      if (!ended.counted) return false;
      const grants = await Promise.all(grantKeys.map((g) => endMember(g, accountId, '', new Set())));
      const leaving = [sessionKey, ...grantKeys.filter((_, i) => grants[i]!.counted)];
      await redis.srem(keys.account(accountId), ...leaving);
      return true;
    },
  };
}

export type AccountSessions = ReturnType<typeof createAccountSessions>;
