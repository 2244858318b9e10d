import { z } from 'zod';
import type { FactorDeps } from '../deps.js';
import { completeEnrollment, factorAdded } from '../enrollment.js';
import type { Enrollment, StepFactor } from '../factor.js';
import { lockedMessage, type AttemptAudit } from '../attempts.js';
import { hashRecoveryCode, newRecoveryCodes } from '../recovery-codes/recovery-codes.js';
import { formatManualKey, matchTotpStep, newTotpSecret, totpQrDataUrl, totpUri } from './totp.js';

const codeForm = z.object({ code: z.string().max(64).default('') });
export type TotpInput = z.infer<typeof codeForm>;
const UUID = /^[0-9a-f-]{36}$/i;
const confirmForm = z.object({ code: z.string().max(64).default(''), factorId: z.string().regex(UUID) });
export type TotpConfirmInput = z.infer<typeof confirmForm>;

const subjectsFor = (accountId: string | undefined, ip: string) => ({ account: `totp:acct:${accountId ?? 'none'}`, ip: `ip:${ip}` });

/** An authenticator app (RFC 6238, SPEC §3). */
export function totpFactor(deps: FactorDeps): StepFactor<'totp', TotpInput> {
  return {
    kind: 'totp',
    route: 'totp',
    form: codeForm,
    name: 'your authenticator app',
    refusal: 'That code is not valid. Check your authenticator app and try again.',
    subjects: (_input, accountId, ip) => subjectsFor(accountId, ip),
    async verify({ accountId, enrolled, input, now }) {
      if (!accountId) return { ok: false, reason: 'no_account' };
      for (const factor of enrolled.filter((f) => f.factor === 'totp')) {
        const stored = await deps.factors.totpSecret(factor.credentialId, accountId);
        if (stored?.status !== 'active') continue;
        const step = await matchTotpStep(stored.secret, input.code, now, stored.lastUsedStep);
        // RFC 6238 §5.2: a time step is accepted once; the atomic claim decides, a parallel submission loses here
        if (step !== undefined && (await deps.factors.claimTotpStep(factor.credentialId, accountId, step))) {
          return { ok: true, accountId, event: { factor: 'totp', credentialId: factor.credentialId, at: now }, details: { factorId: factor.credentialId } };
        }
      }
      return { ok: false, reason: 'bad_code', accountId };
    },
    async page() {
      return { view: 'totp.njk', context: { title: 'Enter your code' } };
    },
    describe: () => ({ kindName: 'Authenticator app' }),
  };
}

/**
 * Adding an authenticator app (SPEC §3): a pending factor with a fresh secret, shown as a QR code and a
 * key, active only once one valid code confirms it. The confirmation and the first recovery codes are
 * one transaction (issue #7), with the same single-use claim of the time step as a sign-in.
 */
export function totpEnrollment(deps: FactorDeps): Enrollment<'totp', TotpConfirmInput> {
  return {
    choice: 'totp',
    form: confirmForm,
    name: 'An authenticator app',
    hint: 'An app on your phone that shows a new 6-digit code every 30 seconds.',
    async begin(_ctx, subject) {
      const secret = newTotpSecret();
      // one pending enrollment per account: an earlier, abandoned one is replaced (never active)
      const pending = await deps.factors.createPendingTotp(subject.accountId, 'Authenticator app', secret);
      return pageContext(deps, subject.email, pending.id, secret);
    },
    async confirm(ctx, subject, input, now) {
      const accountId = subject.accountId;
      const stored = input ? await deps.factors.totpSecret(input.factorId, accountId) : undefined;
      if (!input || stored?.status !== 'pending') return { ok: false, reason: 'setup_expired', message: 'This setup was replaced or finished. Start again.', status: 400 };
      // a code is guessable: the same limits as at sign-in (SPEC §3)
      const subjects = subjectsFor(accountId, ctx.ip);
      const what: AttemptAudit = { type: 'factor.enroll', subject: accountId, clientId: subject.clientId, factor: 'totp' };
      const lockedFor = await deps.attempts.lockedFor(ctx, subjects, what);
      if (lockedFor !== undefined) {
        ctx.set('Retry-After', String(lockedFor));
        return { ok: false, reason: 'locked_out', message: lockedMessage(lockedFor), status: 429 };
      }
      const step = await matchTotpStep(stored.secret, input.code, now, stored.lastUsedStep);
      const codes = newRecoveryCodes();
      const confirmed = step === undefined ? undefined : await deps.factors.confirmTotpEnrollment(input.factorId, accountId, step, codes.map(hashRecoveryCode), factorAdded(deps, ctx, accountId));
      if (!confirmed) {
        await deps.attempts.failed(ctx, subjects, { ...what, reason: 'bad_code' });
        return { ok: false, reason: 'bad_code', message: 'That code did not match. Enter the current code from the app.', status: 400 };
      }
      await deps.attempts.succeeded(subjects);
      deps.reads.forget(ctx); // an active factor now (and maybe codes): what this request read is stale
      const recoveryCodes = confirmed.recoveryCodesIssued ? codes : undefined;
      await completeEnrollment(deps, ctx, subject, { factorId: input.factorId, type: 'totp', ...(recoveryCodes ? { recoveryCodes } : {}) });
      return { ok: true, factorId: input.factorId, event: { factor: 'totp', credentialId: input.factorId, at: now }, ...(recoveryCodes ? { recoveryCodes } : {}) };
    },
  };
}

/** The enrollment page again (after a wrong code), for the same pending factor. */
export async function totpEnrollmentAgain(deps: FactorDeps, accountId: string, email: string, factorId: string): Promise<Record<string, unknown> | undefined> {
  const stored = await deps.factors.totpSecret(factorId, accountId);
  return stored?.status === 'pending' ? pageContext(deps, email, factorId, stored.secret) : undefined;
}

async function pageContext(deps: FactorDeps, email: string, factorId: string, secret: string) {
  return { factorId, qr: await totpQrDataUrl(totpUri(secret, deps.issuerName, email)), manualKey: formatManualKey(secret) };
}

