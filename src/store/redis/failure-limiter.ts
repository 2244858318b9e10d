import type { RedisClient } from './client.js';
import { deleteEach, getEach, hashTag } from './hash-tags.js';

/**
 * Counts failed attempts at guessable inputs (passwords, codes) and locks temporarily (SPEC §3).
 * Counters live in Redis, so they survive a restarted login, parallel logins and several instances.
 * Keys are chosen by the caller: per account and factor, and per client IP.
 *
 * Layout: `${prefix}fail:{subject}` the consecutive failures, `${prefix}lock:{subject}` the lock. Tag:
 * the subject, so RECORD_FAILURE's two keys share a Redis Cluster slot (issue #18); reads and deletes
 * over several subjects go by slot (hash-tags.ts getEach, deleteEach).
 */
export interface LimitRule {
  /** failures allowed before any lockout */
  freeAttempts: number;
  /** first lockout, doubled on each further failure */
  baseLockSeconds: number;
  maxLockSeconds: number;
  /** at this many consecutive failures the subject is locked for hardLockSeconds (NIST: at most 100) */
  hardCap: number;
  hardLockSeconds: number;
  /** the failure count is forgotten this long after the last failure */
  windowSeconds: number;
}

export const ACCOUNT_FACTOR_RULE: LimitRule = {
  freeAttempts: 5,
  baseLockSeconds: 2,
  maxLockSeconds: 15 * 60,
  hardCap: 100, // NIST SP 800-63B rev 4 §3.2.2: no more than 100 consecutive failed attempts
  hardLockSeconds: 24 * 3600,
  windowSeconds: 24 * 3600,
};

export const IP_RULE: LimitRule = {
  freeAttempts: 30,
  baseLockSeconds: 60,
  maxLockSeconds: 15 * 60,
  hardCap: 1000,
  hardLockSeconds: 3600,
  windowSeconds: 15 * 60,
};

const RECORD_FAILURE = `
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
local lock = 0
if n >= tonumber(ARGV[4]) then
  lock = tonumber(ARGV[5])
elseif n > tonumber(ARGV[1]) then
  lock = tonumber(ARGV[2]) * (2 ^ (n - tonumber(ARGV[1]) - 1))
  if lock > tonumber(ARGV[3]) then lock = tonumber(ARGV[3]) end
end
if lock > 0 then redis.call('SET', KEYS[2], '1', 'EX', math.floor(lock)) end
return {n, math.floor(lock)}
`;

export interface LimitStatus {
  locked: boolean;
  retryAfterSeconds: number;
  /** the subjects with failures counted right now (a success has a run to end) */
  counting: string[];
}

export interface FailureRecord {
  subject: string;
  failures: number;
  lockedForSeconds: number;
}

export function createFailureLimiter(redis: RedisClient, prefix: string) {
  const counterKey = (subject: string) => `${prefix}fail:${hashTag(subject)}`;
  const lockKey = (subject: string) => `${prefix}lock:${hashTag(subject)}`;

  return {
    /** Rejects before the guess is even checked, so a locked subject learns nothing from trying. */
    async status(subjects: string[]): Promise<LimitStatus> {
      if (subjects.length === 0) return { locked: false, retryAfterSeconds: 0, counting: [] };
      // one MGET answers the usual case (no lock), counters included so a success that has no run of
      // failures to end costs no command (issue #6); the wait is read only for the locks that exist
      const values = await getEach(redis, [...subjects.map(lockKey), ...subjects.map(counterKey)]);
      const held = subjects.filter((_, i) => values[i] !== null);
      const counting = subjects.filter((_, i) => values[subjects.length + i] !== null);
      if (held.length === 0) return { locked: false, retryAfterSeconds: 0, counting };
      const ttls = await Promise.all(held.map((s) => redis.pttl(lockKey(s))));
      const longest = Math.max(0, ...ttls);
      return { locked: longest > 0, retryAfterSeconds: Math.ceil(longest / 1000), counting };
    },
    async recordFailure(entries: Array<{ subject: string; rule: LimitRule }>): Promise<FailureRecord[]> {
      return Promise.all(
        entries.map(async ({ subject, rule }) => {
          const [failures, lock] = (await redis.eval(
            RECORD_FAILURE,
            2,
            counterKey(subject),
            lockKey(subject),
            rule.freeAttempts,
            rule.baseLockSeconds,
            rule.maxLockSeconds,
            rule.hardCap,
            rule.hardLockSeconds,
            rule.windowSeconds,
          )) as [number, number];
          return { subject, failures, lockedForSeconds: lock };
        }),
      );
    },
    /** Issue #16 recentFailures: the failures counted right now for each subject (0 when none), one MGET. */
    async counts(subjects: string[]): Promise<number[]> {
      const values = await getEach(redis, subjects.map(counterKey));
      return values.map((v) => (v === null ? 0 : Number(v) || 0));
    },
    /** A success ends the run of consecutive failures for that subject. */
    async reset(subjects: string[]): Promise<void> {
      await deleteEach(redis, subjects.map(counterKey));
    },
  };
}

export type FailureLimiter = ReturnType<typeof createFailureLimiter>;
