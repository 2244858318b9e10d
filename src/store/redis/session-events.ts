import type { Redis } from 'ioredis';

/**
 * SPEC §1: the session records every factor verification as an event; levels are derived from the
 * events at each request, never stored. oidc-provider's Session has a fixed payload, so the events live
 * beside it in Redis, keyed by the session's `uid` (stable across the id rotation at each login).
 * Each entry carries its account: events recorded for another account are never read back.
 * Appending is RPUSH + LTRIM + EXPIRE in one MULTI, so two interactions finishing at once both land.
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

export function createSessionEventsStore(redis: Redis, prefix: string, ttlSeconds: number) {
  const key = (sessionUid: string) => `${prefix}session-events:${sessionUid}`;
  return {
    async get(sessionUid: string, accountId: string): Promise<StoredFactorEvent[]> {
      const entries = await redis.lrange(key(sessionUid), 0, -1);
      const events = entries
        .map((raw) => JSON.parse(raw) as { accountId: string; event: StoredFactorEvent })
        .filter((e) => e.accountId === accountId)
        .map((e) => e.event);
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
      const k = key(sessionUid);
      const results = await redis
        .multi()
        .rpush(k, ...events.map((event) => JSON.stringify({ accountId, event })))
        .ltrim(k, -MAX_EVENTS, -1)
        .expire(k, ttlSeconds)
        .exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    },
    async clear(sessionUid: string): Promise<void> {
      await redis.del(key(sessionUid));
    },
  };
}

export type SessionEventsStore = ReturnType<typeof createSessionEventsStore>;
