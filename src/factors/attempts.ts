import type { Context } from 'koa';
import type { Audit, AuditEventType } from '../audit/audit.js';
import type { AttemptSubjects } from './factor.js';
import { ACCOUNT_FACTOR_RULE, IP_RULE, type FailureLimiter } from '../store/redis/failure-limiter.js';

/**
 * One guard for every guessable input (SPEC §3): refuse while locked (before the guess is checked),
 * count a failure per account+factor and per IP, audit lockouts, and end the run on success.
 * Redis errors propagate: a limiter that cannot answer fails closed (503), never open.
 */
export type { AttemptSubjects };

export interface AttemptAudit {
  type: AuditEventType;
  subject?: string;
  clientId?: string;
}

export function createAttemptGuard(limiter: FailureLimiter, audit: Audit) {
  /**
   * Whether the account had failures counted when its attempt was let through, by attempt (the same
   * subjects object goes to lockedFor, then succeeded): a success with none to forget skips the DEL
   * (issue #6). A failure counted by a parallel attempt in between is then not forgotten: it expires
   * with its window, and can only bring a lockout earlier, never later.
   */
  const accountCounting = new WeakMap<AttemptSubjects, boolean>();
  return {
    /** Seconds to wait when locked; undefined when the attempt may go ahead. */
    async lockedFor(ctx: Context, subjects: AttemptSubjects, what: AttemptAudit): Promise<number | undefined> {
      const status = await limiter.status([subjects.account, subjects.ip]);
      accountCounting.set(subjects, status.counting.includes(subjects.account));
      if (!status.locked) return undefined;
      await audit.record({ ...what, outcome: 'failure', reason: 'locked_out' }, ctx);
      return status.retryAfterSeconds;
    },
    async failed(ctx: Context, subjects: AttemptSubjects, what: AttemptAudit & { reason: string }): Promise<void> {
      const records = await limiter.recordFailure([
        { subject: subjects.account, rule: ACCOUNT_FACTOR_RULE },
        { subject: subjects.ip, rule: IP_RULE },
      ]);
      const lockout = records.find((r) => r.lockedForSeconds > 0);
      await audit.record(
        {
          ...what,
          outcome: 'failure',
          reason: lockout ? 'lockout_started' : what.reason,
          details: lockout ? { lockedForSeconds: lockout.lockedForSeconds, failures: lockout.failures } : undefined,
        },
        ctx,
      );
    },
    async succeeded(subjects: AttemptSubjects): Promise<void> {
      if (accountCounting.get(subjects) === false) return;
      await limiter.reset([subjects.account]);
    },
  };
}

export type AttemptGuard = ReturnType<typeof createAttemptGuard>;

export const lockedMessage = (seconds: number) => `Too many attempts. Try again in ${Math.max(1, Math.ceil(seconds / 60))} minute(s).`;
