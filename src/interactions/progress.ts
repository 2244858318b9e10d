import type { RedisClient } from '../store/redis/client.js';
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
}

export function createProgressStore(redis: RedisClient, prefix: string) {
  const key = (uid: string) => `${prefix}ix:${uid}`;
  return {
    async get(uid: string): Promise<InteractionProgress | undefined> {
      const raw = await redis.get(key(uid));
      return raw ? (JSON.parse(raw) as InteractionProgress) : undefined;
    },
    async put(uid: string, progress: InteractionProgress, ttlSeconds: number): Promise<void> {
      await redis.set(key(uid), JSON.stringify(progress), 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    },
    async drop(uid: string): Promise<void> {
      await redis.del(key(uid));
    },
  };
}

export type ProgressStore = ReturnType<typeof createProgressStore>;

/** The page a marked interaction leads to, whatever else is asked (issue #15); undefined when not marked. */
export const pendingNewPassword = (uid: string, progress: InteractionProgress | undefined): string | undefined =>
  progress?.newPasswordRequired ? `/interaction/${uid}/new-password` : undefined;
