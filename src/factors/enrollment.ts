import type { Context } from 'koa';
import type { FactorDeps } from './deps.js';
import type { EnrollmentSubject } from './factor.js';
import type { Factor } from '../store/factors.repo.js';
import type { AlsoInTransaction } from '../store/in-transaction.js';

/**
 * What every enrollment does once its factor is active (SPEC §3, §4), wherever it happened: audited,
 * and the first second factor's recovery codes recorded as issued. The factor, its codes and the
 * notification to the user (`factorAdded`) were stored in one transaction by the factor's own
 * repository call (issues #7, #17).
 */
export async function completeEnrollment(
  deps: Pick<FactorDeps, 'audit'>,
  ctx: Context,
  subject: EnrollmentSubject,
  done: { factorId: string; type: 'totp' | 'webauthn'; details?: Record<string, unknown>; recoveryCodes?: string[] },
): Promise<void> {
  const who = { subject: subject.accountId, actor: subject.accountId, clientId: subject.clientId };
  await deps.audit.record({ type: 'factor.enroll', outcome: 'success', reason: subject.via, ...who, details: { factorId: done.factorId, type: done.type, ...done.details } }, ctx);
  if (done.recoveryCodes) await deps.audit.record({ type: 'recovery_codes.issued', outcome: 'success', ...who, details: { count: done.recoveryCodes.length } }, ctx);
}

/** A refused enrollment is audited with its reason; nothing is stored. */
export async function refuseEnrollment(deps: Pick<FactorDeps, 'audit'>, ctx: Context, subject: EnrollmentSubject, type: 'totp' | 'webauthn', reason: string): Promise<void> {
  await deps.audit.record({ type: 'factor.enroll', outcome: 'failure', reason, subject: subject.accountId, actor: subject.accountId, clientId: subject.clientId, details: { type, via: subject.via } }, ctx);
}

/** SPEC §4: the person is told, in the enrollment's own transaction (the factor repository calls it). */
export const factorAdded = (deps: Pick<FactorDeps, 'notify'>, ctx: Context, accountId: string): AlsoInTransaction<Factor> =>
  deps.notify.within<Factor>(ctx, (f) => ({ kind: 'factor_added', accountId, factor: { id: f.id, type: f.type, label: f.label } }));
