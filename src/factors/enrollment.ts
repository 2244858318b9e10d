import type { Context } from 'koa';
import type { FactorDeps } from './deps.js';
import type { EnrollmentSubject } from './factor.js';

/**
 * What every enrollment does once its factor is active (SPEC §3, §4), wherever it happened: audited,
 * notified to the user, and the first second factor's recovery codes recorded as issued. The factor and
 * its codes were stored in one transaction by the factor's own repository call (issue #7).
 */
export async function completeEnrollment(
  deps: Pick<FactorDeps, 'audit' | 'notify'>,
  ctx: Context,
  subject: EnrollmentSubject,
  done: { factorId: string; type: 'totp' | 'webauthn'; details?: Record<string, unknown>; notice: string; recoveryCodes?: string[] },
): Promise<void> {
  const who = { subject: subject.accountId, actor: subject.accountId, clientId: subject.clientId };
  await deps.audit.record({ type: 'factor.enroll', outcome: 'success', reason: subject.via, ...who, details: { factorId: done.factorId, type: done.type, ...done.details } }, ctx);
  if (done.recoveryCodes) await deps.audit.record({ type: 'recovery_codes.issued', outcome: 'success', ...who, details: { count: done.recoveryCodes.length } }, ctx);
  await deps.notify(subject.accountId, done.notice);
}

/** A refused enrollment is audited with its reason; nothing is stored. */
export async function refuseEnrollment(deps: Pick<FactorDeps, 'audit'>, ctx: Context, subject: EnrollmentSubject, type: 'totp' | 'webauthn', reason: string): Promise<void> {
  await deps.audit.record({ type: 'factor.enroll', outcome: 'failure', reason, subject: subject.accountId, actor: subject.accountId, clientId: subject.clientId, details: { type, via: subject.via } }, ctx);
}
