import type { Context } from 'koa';
import type { Audit, AuditEventType } from '../audit/audit.js';
import type { AttemptSubjects } from './factor.js';
import { ACCOUNT_FACTOR_RULE, IP_RULE, type FailureLimiter } from '../store/redis/failure-limiter.js';
import type { Notifier } from '../notifications/notifier.js';
import type { FactorKind } from '../stepup/factor-kinds.js';

/**
 * One guard for every guessable input (SPEC §3): refuse while locked (before the guess is checked),
 * count a failure per account+factor and per IP, audit lockouts (and tell the person: issue #17), and end
 * the run on success.
 * Redis errors propagate: a limiter that cannot answer fails closed (503), never open.
 */
export type { AttemptSubjects };

export interface AttemptAudit {
  type: AuditEventType;
  /** the account the guess was for (undefined: an unknown email) */
  subject?: string;
  clientId?: string;
  /** what was guessed: named in the lockout notice */
  factor: FactorKind;
}

/**
 * Which lockouts the person is told about: the first of a run of failures, and the long hard lock
 * (NIST's cap). Not every doubling in between: each further wrong guess after a lock ends starts the
 * next lock, and a notice per lock would let anyone flood a person's mailbox by guessing.
 */
export const notifiesLockout = (failures: number) => failures === ACCOUNT_FACTOR_RULE.freeAttempts + 1 || failures === ACCOUNT_FACTOR_RULE.hardCap;

export function createAttemptGuard(limiter: FailureLimiter, audit: Audit, notify: Notifier) {
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
      const { factor: _factor, ...event } = what;
      await audit.record({ ...event, outcome: 'failure', reason: 'locked_out' }, ctx);
      return status.retryAfterSeconds;
    },
    async failed(ctx: Context, subjects: AttemptSubjects, what: AttemptAudit & { reason: string }): Promise<void> {
      const records = await limiter.recordFailure([
        { subject: subjects.account, rule: ACCOUNT_FACTOR_RULE },
        { subject: subjects.ip, rule: IP_RULE },
      ]);
      const lockout = records.find((r) => r.lockedForSeconds > 0);
      const { factor, ...event } = what;
      await audit.record(
        {
          ...event,
          outcome: 'failure',
          reason: lockout ? 'lockout_started' : what.reason,
          details: lockout ? { lockedForSeconds: lockout.lockedForSeconds, failures: lockout.failures } : undefined,
        },
        ctx,
      );
      // the account's own lock (not the IP's): a Redis write, so the notice is written right after it
      const accountLock = records.find((r) => r.subject === subjects.account && r.lockedForSeconds > 0);
      if (accountLock && what.subject && notifiesLockout(accountLock.failures)) {
        await notify.send(ctx, { kind: 'lockout', accountId: what.subject, factor, lockedForSeconds: accountLock.lockedForSeconds });
      }
    },
    async succeeded(subjects: AttemptSubjects): Promise<void> {
      if (accountCounting.get(subjects) === false) return;
      await limiter.reset([subjects.account]);
    },
  };
}

export type AttemptGuard = ReturnType<typeof createAttemptGuard>;

export const lockedMessage = (seconds: number) => `Too many attempts. Try again in ${Math.max(1, Math.ceil(seconds / 60))} minute(s).`;
