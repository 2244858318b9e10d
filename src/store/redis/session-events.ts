import type { Redis } from 'ioredis';
import { amrForEvent } from '../../stepup/index.js';
import { defineScript, runScript } from './scripts.js';

/**
 * SPEC §1: the session records every factor verification as an event; levels are derived from the
 * events at each request, never stored. oidc-provider's Session has a fixed payload, so the events live
 * beside it in Redis, keyed by the session's `uid` (stable across the id rotation at each login).
 * Each entry carries its account: events recorded for another account are never read back.
 * Appending is RPUSH + LTRIM + EXPIRE in one script (atomic, one command), so two interactions
 * finishing at once both land.
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
 * Entries are compact JSON arrays (issue #6: Redis memory per session): [account, at, factor code,
 * credential id, WebAuthn flags]. amr is not stored: it is amrForEvent() of the rest, as when the event
 * was recorded. The flags are three characters, user verified / backup eligible / attested, each
 * '1', '0' or '-' (unknown: a key is called device-bound only when it says BE=0). Entries written as
 * `{"accountId","event"}` objects before are still read (sessions live for 14 days).
 */
const CODES = { password: 'p', totp: 't', webauthn: 'w', recovery_code: 'r' } as const;
const FACTORS = { p: 'password', t: 'totp', w: 'webauthn', r: 'recovery_code' } as const;
type Entry = [account: string, at: number, code: keyof typeof FACTORS, credentialId?: string | null, flags?: string];

const flag = (v: boolean | undefined) => (v === undefined ? '-' : v ? '1' : '0');
const unflag = (c: string | undefined) => (c === '1' ? true : c === '0' ? false : undefined);

export function encodeEvent(accountId: string, e: StoredFactorEvent): string {
  const entry: Entry = [accountId, e.at, CODES[e.factor]];
  if (e.factor === 'webauthn') entry.push(e.credentialId ?? null, `${flag(e.userVerified)}${flag(e.backupEligible)}${flag(e.attested)}`);
  else if (e.credentialId !== undefined) entry.push(e.credentialId);
  return JSON.stringify(entry);
}

export function decodeEvent(raw: string): { accountId: string; event: StoredFactorEvent } | undefined {
  const parsed = JSON.parse(raw) as Entry | { accountId: string; event: StoredFactorEvent };
  if (!Array.isArray(parsed)) return parsed; // written before the compact form
  const [accountId, at, code, credentialId, flags] = parsed;
  const factor = FACTORS[code];
  if (!factor) return undefined;
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
  return { accountId, event: { ...event, amr: amrForEvent(event) } };
}

/** KEYS[1] the session's list; ARGV: max events, ttl seconds, entries… */
const APPEND = defineScript(`
redis.call('RPUSH', KEYS[1], unpack(ARGV, 3))
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
`);

export function createSessionEventsStore(redis: Redis, prefix: string, ttlSeconds: number) {
  const key = (sessionUid: string) => `${prefix}session-events:${sessionUid}`;
  return {
    async get(sessionUid: string, accountId: string): Promise<StoredFactorEvent[]> {
      const entries = await redis.lrange(key(sessionUid), 0, -1);
      const events = entries
        .map(decodeEvent)
        .filter((e) => e !== undefined && e.accountId === accountId)
        .map((e) => e!.event);
      // the same verification may be appended twice (a retried resume): count it once
      return events
        .filter((e, i) => events.findIndex((o) => o.at === e.at && o.factor === e.factor && o.credentialId === e.credentialId) === i)
        .sort((a, b) => a.at - b.at);
    },
    async append(sessionUid: string, accountId: string, events: StoredFactorEvent[]): Promise<void> {
      if (events.length === 0) {
        await redis.expire(key(sessionUid), ttlSeconds);
        return;
      }
      await runScript(redis, APPEND, 1, key(sessionUid), String(MAX_EVENTS), String(ttlSeconds), ...events.map((event) => encodeEvent(accountId, event)));
    },
    async clear(sessionUid: string): Promise<void> {
      await redis.del(key(sessionUid));
    },
  };
}

export type SessionEventsStore = ReturnType<typeof createSessionEventsStore>;
