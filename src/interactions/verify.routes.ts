import type Router from '@koa/router';
import type { Context } from 'koa';
import type { NewPasswordStep } from '../account/new-password-step.js';
import { loginEventType, type Audit } from '../audit/audit.js';
import { lockedMessage, type AttemptGuard } from '../factors/attempts.js';
import type { FactorRegistry, StepFactor } from '../factors/factor.js';
import type { AccountReads } from '../store/account-reads.js';
import { requireCsrf, type Csrf } from '../http/csrf.js';
import { formBody, readForm, seeOther, type PageKit } from '../http/kit.js';
import { amrForEvent, FACTOR_KINDS, offerFor, type FactorKind } from '../stepup/index.js';
import { gatherRisk, recordEvent, resolveFlow, type FlowDeps, type FlowState, type InteractionDetails } from './flow.js';
import type { NextStep } from './next-step.js';
import { pendingNewPassword } from './progress.js';

export interface VerifyDeps extends FlowDeps {
  kit: PageKit;
  csrf: Csrf;
  registry: FactorRegistry;
  attempts: AttemptGuard;
  audit: Audit;
  next: NextStep;
  reads: AccountReads;
  /** issue #15: "must change the password at next sign-in" (src/account/new-password-step.ts) */
  newPassword?: Pick<NewPasswordStep, 'interrupt'>;
  loadInteraction(ctx: Context): Promise<InteractionDetails | undefined>;
  csrfFailed(ctx: Context): void;
}

/** The primary factors can identify the account on the first page (SPEC §1 rank 1). */
const IDENTIFYING: ReadonlySet<FactorKind> = new Set(['password', 'webauthn']);

/**
 * One verification pipeline for every factor (issue #13), at POST /interaction/<uid>/<factor route>:
 * load the interaction → decide → is this factor asked for now? → lockout → verify → count the attempt →
 * audit → record the event → continue. A refusal of any kind shows the same step again with one generic
 * sentence (the reason is in the audit trail) and leaves the session where it was.
 */
export function mountVerification(router: Router, deps: VerifyDeps): void {
  const isAsked = (state: FlowState, kind: FactorKind) => {
    if (!state.accountId) return IDENTIFYING.has(kind);
    if (state.decision?.outcome !== 'step_up') return false;
    const offer = offerFor(state.decision);
    return offer?.kind === 'verify' && offer.factors.includes(kind);
  };

  const verify = <K extends FactorKind>(factor: StepFactor<K, unknown>) =>
    async (ctx: Context) => {
      const interaction = await deps.loadInteraction(ctx);
      if (!interaction) return;
      const state = await resolveFlow(deps, interaction, ctx);
      const marked = pendingNewPassword(interaction.uid, state.progress);
      if (marked) return seeOther(ctx, marked);
      // anything but the step the decision asks for: show what is asked instead (never a 500, never a skip)
      if (!isAsked(state, factor.kind)) return deps.next.proceed(ctx, interaction, {}, state);

      const input = readForm(ctx, factor.form);
      const subjects = factor.subjects(input, state.accountId, ctx.ip);
      const clientId = String(interaction.params.client_id);
      const what = { type: loginEventType(factor.kind), subject: state.accountId, clientId, factor: factor.kind };
      // the typed email comes back into the sign-in form after a refusal (never the password)
      const keep = { method: factor.kind, ...(factor.kind === 'password' && !state.accountId ? { email: (input as { email?: string } | undefined)?.email ?? '' } : {}) };

      // SPEC §3: refused before the guess is checked, 429 with Retry-After, the same step with the wait
      const lockedFor = await deps.attempts.lockedFor(ctx, subjects, what);
      if (lockedFor !== undefined) {
        ctx.status = 429;
        ctx.set('Retry-After', String(lockedFor));
        return deps.next.proceed(ctx, interaction, { ...keep, error: lockedMessage(lockedFor) }, state);
      }

      const outcome = input === undefined ? ({ ok: false as const, reason: 'malformed_form', accountId: undefined }) : await factor.verify({ ctx, interactionUid: interaction.uid, accountId: state.accountId, enrolled: state.enrolled ?? [], now: deps.now(), input });
      if (!outcome.ok) {
        await deps.attempts.failed(ctx, subjects, { ...what, subject: outcome.accountId ?? state.accountId, reason: outcome.reason });
        ctx.status = 401;
        const unknownCredential = outcome.unknownCredential ? { unknownCredential: outcome.unknownCredential } : {};
        return deps.next.proceed(ctx, interaction, { ...keep, error: outcome.refusal ?? factor.refusal, ...unknownCredential }, state);
      }

      // issue #16: the risk signals, once per interaction, before the success resets the failure counters
      const identified = deps.risk?.enabled ? await deps.reads.account(ctx, outcome.accountId, { withFactors: true }) : undefined;
      const risk = identified ? await gatherRisk(deps, ctx, state, identified) : undefined;
      await deps.attempts.succeeded(subjects);
      await deps.audit.record({ type: what.type, outcome: 'success', subject: outcome.accountId, clientId, ...(outcome.details ? { details: outcome.details } : {}) }, ctx);
      const event = { ...outcome.event, amr: amrForEvent(outcome.event) };
      const progress = await recordEvent(deps, state, outcome.accountId, event, risk);
      // issue #15: a password the admin asked to replace is replaced before the sign-in goes on
      if (factor.kind === 'password' && deps.newPassword) {
        const account = await deps.reads.account(ctx, outcome.accountId);
        if (account && (await deps.newPassword.interrupt(ctx, interaction, account, progress))) return;
      }
      if (outcome.interstitial) return deps.kit.page(ctx, outcome.interstitial.view, { step: `${factor.kind}_accepted`, uid: interaction.uid, ...outcome.interstitial.context });
      return deps.next.afterVerified(ctx, interaction, progress);
    };

  for (const kind of FACTOR_KINDS) {
    const factor = deps.registry[kind] as StepFactor<FactorKind, unknown>;
    router.post(`/interaction/:uid/${factor.route}`, formBody('32kb'), requireCsrf(deps.csrf, deps.csrfFailed), verify(factor));
  }
}
