import type { Redis } from 'ioredis';

/**
 * SPEC §1: the session records every factor verification as an event; levels are derived from the
 * events at each request, never stored. oidc-provider's Session has a fixed payload, so the events live
 * beside it in Redis, keyed by the session's `uid` (stable across the id rotation at each login) and
 * bound to the account: events recorded for another account are never read back.
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
      const raw = await redis.get(key(sessionUid));
      if (!raw) return [];
      const stored = JSON.parse(raw) as { accountId: string; events: StoredFactorEvent[] };
      return stored.accountId === accountId ? stored.events : [];
    },
    /** Adds events (a finished interaction's) to a session; replaces everything when the account changed. */
    async append(sessionUid: string, accountId: string, events: StoredFactorEvent[]): Promise<StoredFactorEvent[]> {
      const existing = await this.get(sessionUid, accountId);
      const merged = [...existing, ...events]
        .filter((e, i, all) => all.findIndex((o) => o.at === e.at && o.factor === e.factor && o.credentialId === e.credentialId) === i)
        .sort((a, b) => a.at - b.at)
        .slice(-MAX_EVENTS);
      await redis.set(key(sessionUid), JSON.stringify({ accountId, events: merged }), 'EX', ttlSeconds);
      return merged;
    },
    async clear(sessionUid: string): Promise<void> {
      await redis.del(key(sessionUid));
    },
  };
}

export type SessionEventsStore = ReturnType<typeof createSessionEventsStore>;
