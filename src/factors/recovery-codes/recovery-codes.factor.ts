import { z } from 'zod';
import type { FactorDeps } from '../deps.js';
import type { StepFactor } from '../factor.js';
import { hashRecoveryCode, looksLikeRecoveryCode, normalizeRecoveryCode } from './recovery-codes.js';

const form = z.object({ code: z.string().max(200).default('') });
export type RecoveryCodeInput = z.infer<typeof form>;

/** A recovery code (SPEC §3): the aal2 step only, single-use, and the person is told how many remain. */
export function recoveryCodeFactor(deps: FactorDeps): StepFactor<'recovery_code', RecoveryCodeInput> {
  return {
    kind: 'recovery_code',
    route: 'recovery',
    form,
    name: 'a recovery code',
    refusal: 'That recovery code is not valid or was already used.',
    subjects: (_input, accountId, ip) => ({ account: `recovery:acct:${accountId ?? 'none'}`, ip: `ip:${ip}` }),
    async verify({ ctx, accountId, input, now }) {
      if (!accountId) return { ok: false, reason: 'no_account' };
      const code = normalizeRecoveryCode(input.code);
      // single-use: the conditional UPDATE decides, so parallel uses of one code give one success
      // SPEC §3: the person is told how many remain, counted and stored with the use itself (issue #17)
      const notice = deps.notify.within<{ remaining: number }>(ctx, ({ remaining }) => ({ kind: 'recovery_code_used', accountId, remaining }));
      if (!looksLikeRecoveryCode(code) || !(await deps.recoveryCodes.consume(accountId, hashRecoveryCode(code), notice))) return { ok: false, reason: 'bad_code', accountId };
      deps.reads.forget(ctx); // the last code leaves no recovery factor
      const remaining = await deps.recoveryCodes.remaining(accountId);
      return {
        ok: true,
        accountId,
        event: { factor: 'recovery_code', at: now },
        details: { remaining },
        interstitial: { view: 'recovery-used.njk', context: { title: 'Recovery code accepted', remaining } },
      };
    },
    async page() {
      return { view: 'recovery.njk', context: { title: 'Enter a recovery code' } };
    },
  };
}
