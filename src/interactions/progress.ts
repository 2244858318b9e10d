import type { RiskRecord } from '../risk/signals.js';
import type { RedisClient } from '../store/redis/client.js';
import { dropKept, progressEntry, takeKept } from '../store/redis/request-reads.js';
import type { StoredFactorEvent } from '../store/redis/session-events.js';

/**
 * What has been proven so far inside one interaction (one /interaction/<uid>). Kept server-side and
 * bound to the interaction's uid: the browser never holds it, and it dies with the interaction, so an
 * abandoned step-up leaves no stronger session behind (issue #3: the login is finished once, after
 * every required step).
 */
export interface InteractionProgress {
  accountId: string;
  startedAt: number;
  events: StoredFactorEvent[];
  /** the target chosen when the interaction started (issue #23, SPEC §2 rule 3) */
  target?: string;
  /** issue #15: the password must be replaced before this sign-in goes on (src/account/new-password-step.ts) */
  newPasswordRequired?: boolean;
  /** issue #16: the risk facts gathered when a verification identified the account, and what they demand */
  risk?: RiskRecord;
}

/** Where an interaction's progress is (the Redis adapter reads it along with the Interaction, issue #20). */
export const progressKey = (prefix: string, uid: string) => `${prefix}ix:${uid}`;

export function createProgressStore(redis: RedisClient, prefix: string) {
  const key = (uid: string) => progressKey(prefix, uid);
  const forgetKept = (uid: string) => dropKept((e) => e === progressEntry(uid));
  return {
    async get(uid: string): Promise<InteractionProgress | undefined> {
      // read along with the Interaction earlier in this request (one server), else read now
      const kept = takeKept<string>(progressEntry(uid));
      const raw = kept !== undefined ? kept : await redis.get(key(uid));
      return raw ? (JSON.parse(raw) as InteractionProgress) : undefined;
    },
    async put(uid: string, progress: InteractionProgress, ttlSeconds: number): Promise<void> {
      forgetKept(uid);
      await redis.set(key(uid), JSON.stringify(progress), 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    },
    async drop(uid: string): Promise<void> {
      forgetKept(uid);
      await redis.del(key(uid));
    },
  };
}

export type ProgressStore = ReturnType<typeof createProgressStore>;

/** The page a marked interaction leads to, whatever else is asked (issue #15); undefined when not marked. */
export const pendingNewPassword = (uid: string, progress: InteractionProgress | undefined): string | undefined =>
  progress?.newPasswordRequired ? `/interaction/${uid}/new-password` : undefined;
