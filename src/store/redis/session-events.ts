import type { RedisClient } from './client.js';
import { amrForEvent } from '../../stepup/index.js';
import { oidcKeys } from './oidc-adapter.js';
import { defineScript, runScript } from './scripts.js';

/**
 * SPEC §1: the session records every factor verification as an event; levels are derived from the
 * events at each request, never stored. oidc-provider's Session has a fixed payload, so the events live
 * beside it in Redis, keyed by the session's `uid` (stable across the id rotation at each login): as
 * fields of the session's uid hash, whose `i` field the oidc adapter keeps (oidc-adapter.ts), so a
 * session costs two keys and the events share the session's sliding TTL (issue #6: Redis memory per
 * active session; a separate list cost about 380 bytes a session).
 *
 * Field `a` names the account the events belong to; each event is one field (its compact encoding, so
 * a retried append of the same verification is stored once) with an empty value. Events of another
 * account are dropped when one is appended: they would never be read back.
 * Appending is one script (atomic, one command), so two interactions finishing at once both land.
 */
export interface StoredFactorEvent {
  factor: 'password' | 'totp' | 'webauthn' | 'recovery_code';
  credentialId?: string;
  at: number;
  amr: string[];
  userVerified?: boolean;
  backupEligible?: boolean;
  attested?: boolean;
}

/** Older events cannot hold any level once newer ones exist; a bounded list keeps a session small. */
const MAX_EVENTS = 16;

/*
 * Events are compact JSON arrays (issue #6): [at, factor code, credential id, WebAuthn flags], at most
 * about 60 bytes, so the hash keeps Redis's compact encoding. amr is not stored: it is amrForEvent() of
 * the rest, as when the event was recorded. The flags are three characters, user verified / backup
 * eligible / attested, each '1', '0' or '-' (unknown: a key is called device-bound only when it says
 * BE=0). Epoch seconds have 10 digits until 2286, so the fields sort by time as strings.
 */
const CODES = { password: 'p', totp: 't', webauthn: 'w', recovery_code: 'r' } as const;
const FACTORS = { p: 'password', t: 'totp', w: 'webauthn', r: 'recovery_code' } as const;
type Entry = [at: number, code: keyof typeof FACTORS, credentialId?: string | null, flags?: string];

/** The hash fields that are not events. */
const ACCOUNT_FIELD = 'a';
const isEventField = (field: string) => field.startsWith('[');

const flag = (v: boolean | undefined) => (v === undefined ? '-' : v ? '1' : '0');
const unflag = (c: string | undefined) => (c === '1' ? true : c === '0' ? false : undefined);

export function encodeEvent(e: StoredFactorEvent): string {
  const entry: Entry = [e.at, CODES[e.factor]];
  if (e.factor === 'webauthn') entry.push(e.credentialId ?? null, `${flag(e.userVerified)}${flag(e.backupEligible)}${flag(e.attested)}`);
  else if (e.credentialId !== undefined) entry.push(e.credentialId);
  return JSON.stringify(entry);
}

export function decodeEvent(raw: string): StoredFactorEvent | undefined {
  const [at, code, credentialId, flags] = JSON.parse(raw) as Entry;
  const factor = FACTORS[code];
  if (!factor || typeof at !== 'number') return undefined;
  const event: Omit<StoredFactorEvent, 'amr'> = {
    factor,
    ...(typeof credentialId === 'string' ? { credentialId } : {}),
    at,
    ...(factor === 'webauthn'
      ? Object.fromEntries(
          (['userVerified', 'backupEligible', 'attested'] as const).flatMap((name, i) => {
            const v = unflag(flags?.[i]);
            return v === undefined ? [] : [[name, v]];
          }),
        )
      : {}),
  };
  return { ...event, amr: amrForEvent(event) };
}

/*
 * KEYS[1] the session's uid hash; ARGV: max events, ttl seconds, account id, events…
 * The hash's TTL is the session's (the oidc adapter sets it at every save); a hash created here (the
 * events of a login are appended just before its session is saved) gets the longest a session lives.
 */
const APPEND = defineScript(`
local key, max, account = KEYS[1], tonumber(ARGV[1]), ARGV[3]
local function events()
  local out = {}
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if string.sub(f, 1, 1) == '[' then table.insert(out, f) end
  end
  return out
end
if redis.call('HGET', key, '${ACCOUNT_FIELD}') ~= account then
  for _, f in ipairs(events()) do redis.call('HDEL', key, f) end
  redis.call('HSET', key, '${ACCOUNT_FIELD}', account)
end
for i = 4, #ARGV do redis.call('HSET', key, ARGV[i], '') end
local all = events()
if #all > max then
  table.sort(all)
  for i = 1, #all - max do redis.call('HDEL', key, all[i]) end
end
if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, tonumber(ARGV[2])) end
return 1
`);

export function createSessionEventsStore(redis: RedisClient, prefix: string, ttlSeconds: number) {
  const key = oidcKeys(`${prefix}oidc:`).sessionUid;
  return {
    async get(sessionUid: string, accountId: string): Promise<StoredFactorEvent[]> {
      const fields = await redis.hgetall(key(sessionUid));
      if (fields[ACCOUNT_FIELD] !== accountId) return [];
      return Object.keys(fields)
        .filter(isEventField)
        .map(decodeEvent)
        .filter((e): e is StoredFactorEvent => e !== undefined)
        .sort((a, b) => a.at - b.at);
    },
    async append(sessionUid: string, accountId: string, events: StoredFactorEvent[]): Promise<void> {
      await runScript(redis, APPEND, 1, key(sessionUid), String(MAX_EVENTS), String(ttlSeconds), accountId, ...events.map(encodeEvent));
    },
    /** Logout: the session is gone, its uid hash (events and `i`) with it. */
    async clear(sessionUid: string): Promise<void> {
      await redis.del(key(sessionUid));
    },
  };
}

export type SessionEventsStore = ReturnType<typeof createSessionEventsStore>;
