import type Router from '@koa/router';
import type { Context } from 'koa';
import type { EnrollmentRegistry } from '../factors/factor.js';
import { requireCsrf, type Csrf } from '../http/csrf.js';
import { formBody, readForm, seeOther, type PageKit } from '../http/kit.js';
import { amrForEvent, ENROLLMENT_CHOICES, type EnrollmentChoice } from '../stepup/index.js';
import type { AccountReads } from '../store/account-reads.js';
import { gatherRisk, pinTarget, recordEvent, resolveFlow, type FlowDeps, type InteractionDetails } from './flow.js';
import type { NextStep } from './next-step.js';
import { pendingNewPassword } from './progress.js';

export interface EnrollDeps extends FlowDeps {
  kit: PageKit;
  csrf: Csrf;
  reads: AccountReads;
  enrollments: EnrollmentRegistry;
  next: NextStep;
  loadInteraction(ctx: Context): Promise<InteractionDetails | undefined>;
  csrfFailed(ctx: Context): void;
}

/**
 * SPEC §2 rule 4 exception / §4: a user with no second factor enrolls one inside the step-up, right
 * after a fresh password, and then continues. The same enrollment code as /account (src/factors/).
 * Every condition is re-checked at confirmation, not only when the page was shown: a second factor
 * enrolled meanwhile (another session) means SPEC §4 now asks for aal2 before adding one.
 */
export function mountStepUpEnrollment(router: Router, deps: EnrollDeps): void {
  const confirm = (choice: EnrollmentChoice) =>
    async (ctx: Context) => {
      const interaction = await deps.loadInteraction(ctx);
      if (!interaction) return;
      const state = await resolveFlow(deps, interaction, ctx);
      const marked = pendingNewPassword(interaction.uid, state.progress);
      if (marked) return seeOther(ctx, marked);
      const decision = state.decision;
      const allowed = decision?.outcome === 'step_up' && decision.enrollmentAllowed && decision.enroll.includes(choice) && decision.missing[0]?.step !== 'primary';
      if (!allowed || !state.accountId) return seeOther(ctx, `/interaction/${interaction.uid}`);
      const account = await deps.reads.account(ctx, state.accountId);
      if (!account) return seeOther(ctx, `/interaction/${interaction.uid}`);
      // issue #23: the target is kept before the new factor changes what the account can reach
      const progress = await pinTarget(deps, state);
      const enrollment = deps.enrollments[choice];
      const subject = { accountId: account.id, email: account.email, name: account.name, slot: interaction.uid, clientId: String(interaction.params.client_id), via: 'during_step_up' as const };
      const input = readForm(ctx, enrollment.form);
      const result = await enrollment.confirm(ctx, subject, input, deps.now());
      if (!result.ok) {
        ctx.status = result.status;
        const factorId = (input as { factorId?: string } | undefined)?.factorId;
        return deps.next.proceed(ctx, interaction, { choice, error: result.message, ...(factorId ? { factorId } : {}) }, state);
      }
      // a confirming code is a verification (TOTP); a registration is not: the new key is used next.
      // issue #16: a step-up that ends by enrolling is a sign-in that met its demands too, so its risk
      // signals are gathered here as on the verification pipeline (otherwise its device stayed unknown and
      // the next sign-in from the same browser was asked again); they cannot offer this enrollment, which
      // the app's request already decided
      const risk = result.event ? await gatherRisk(deps, ctx, { ...state, progress }, account) : undefined;
      const after = result.event ? await recordEvent(deps, { ...state, progress }, account.id, { ...result.event, amr: amrForEvent(result.event) }, risk) : progress;
      if (result.recoveryCodes) {
        return deps.kit.page(ctx, 'recovery-codes.njk', { title: 'Save your recovery codes', step: 'recovery_codes', uid: interaction.uid, codes: result.recoveryCodes });
      }
      if (after) return deps.next.afterVerified(ctx, interaction, after);
      return seeOther(ctx, `/interaction/${interaction.uid}`);
    };

  for (const choice of ENROLLMENT_CHOICES) {
    router.post(`/interaction/:uid/enroll/${choice}`, formBody('32kb'), requireCsrf(deps.csrf, deps.csrfFailed), confirm(choice));
  }
}
