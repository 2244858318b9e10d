import type { Context } from 'koa';
import type { EnrollmentRegistry, FactorRegistry } from '../factors/factor.js';
import type { FactorDeps } from '../factors/deps.js';
import { prepareAssertion, credentialsForSteps } from '../factors/webauthn/assertion.js';
import { totpEnrollmentAgain } from '../factors/totp/totp.factor.js';
import type { PageKit } from '../http/kit.js';
import { seeOther } from '../http/kit.js';
import { offerFor, type EnrollmentChoice, type FactorKind } from '../stepup/index.js';
import type { AccountReads } from '../store/account-reads.js';
import { finishLogin, finishWithError, pinTarget, resolveFlow, type FlowDeps, type FlowState, type InteractionDetails } from './flow.js';
import { pendingNewPassword, type InteractionProgress } from './progress.js';
import { ENROLL_FRESH_PASSWORD, ENROLL_TITLES, SWITCH_LINKS, whatNext, whyAsked, whyRefused } from './wording.js';

export interface NextStepDeps extends FlowDeps {
  kit: PageKit;
  reads: AccountReads;
  registry: FactorRegistry;
  enrollments: EnrollmentRegistry;
  factorDeps: FactorDeps;
}

const MAX_EMAIL_LENGTH = 254;

/**
 * The one place that turns the decision into the next page (or the end of the interaction): finish,
 * unmet, the sign-in page, a step page of one of the offered factors, or an enrollment. Each page
 * carries a stable `data-step` marker.
 */
export function createNextStep(deps: NextStepDeps) {
  const { kit } = deps;

  const clientName = async (interaction: InteractionDetails) => {
    const id = interaction.params.client_id;
    return typeof id === 'string' ? ((await deps.provider.Client.find(id))?.clientName ?? id) : undefined;
  };

  /** A passkey signs in without a username (discoverable credential): the options name no credential. */
  const loginPage = async (ctx: Context, interaction: InteractionDetails, extra: Record<string, unknown>) => {
    const hint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint.slice(0, MAX_EMAIL_LENGTH) : '';
    const passkeyOptions = await prepareAssertion(deps.factorDeps, interaction.uid, { allow: [], requireUserVerification: true });
    kit.page(ctx, 'login.njk', { title: 'Sign in', step: 'login', uid: interaction.uid, email: hint, clientName: await clientName(interaction), passkeyOptions, ...extra });
  };

  /** The enrollment page of `choice`: begun now, or shown again for the same pending factor. */
  const enrollmentPage = async (ctx: Context, state: FlowState, choice: EnrollmentChoice, common: Record<string, unknown>, again?: { factorId?: string }) => {
    const account = (await deps.reads.account(ctx, state.accountId!))!;
    const subject = { accountId: account.id, email: account.email, name: account.name, slot: state.interaction.uid, clientId: String(state.interaction.params.client_id), via: 'during_step_up' as const };
    await pinTarget(deps, state);
    const shown = (again?.factorId && choice === 'totp' ? await totpEnrollmentAgain(deps.factorDeps, account.id, account.email, again.factorId) : undefined) ?? (await deps.enrollments[choice].begin(ctx, subject));
    const view = choice === 'totp' ? 'totp-enroll.njk' : 'webauthn-enroll.njk';
    kit.page(ctx, view, { title: ENROLL_TITLES[choice], step: choice === 'totp' ? 'enroll_totp' : 'enroll_webauthn', choice, ...common, ...shown });
  };

  /**
   * Issue #16, onUnreachable "deny": a risk signal demanded a level the account cannot reach. The person
   * sees why (403, access denied); the app gets unmet_authentication_requirements at its redirect_uri
   * when they follow the link back. Nothing can be enrolled from here.
   */
  const refused = async (ctx: Context, state: FlowState) => {
    const { interaction } = state;
    const clientId = String(interaction.params.client_id);
    await deps.risk?.refused(ctx, state.accountId!, state.risk!, clientId, deps.now());
    const returnTo = await deps.provider.interactionResult(
      ctx.req,
      ctx.res,
      { error: 'unmet_authentication_requirements', error_description: 'the sign-in was refused: a risk signal demanded a second factor the account does not have' },
      { mergeWithLastSubmission: false },
    );
    await deps.progress.drop(interaction.uid);
    const name = await clientName(interaction);
    ctx.status = 403;
    kit.page(ctx, 'risk-refused.njk', { title: 'Sign-in refused', step: 'refused', clientName: name, reason: whyRefused(state.risk!.fired), returnTo });
  };

  /**
   * Renders the page for the next missing step, or finishes.
   * @param known the state this request already resolved, when nothing it depends on was written since
   */
  const proceed = async (ctx: Context, interaction: InteractionDetails, extra: Record<string, unknown> = {}, known?: FlowState): Promise<void> => {
    const state = known ?? (await resolveFlow(deps, interaction, ctx));
    const marked = pendingNewPassword(interaction.uid, state.progress);
    if (marked) return seeOther(ctx, marked);
    if (!state.accountId || !state.decision) return loginPage(ctx, interaction, extra);
    // issue #16 onUnreachable "deny": refused, whatever else the decision says
    if (state.risk?.deny) return refused(ctx, state);
    const decision = state.decision;
    if (decision.outcome === 'satisfied') return finishLogin(deps, ctx, { ...state, decision });
    if (decision.outcome === 'unmet') {
      return finishWithError(deps, ctx, interaction, 'unmet_authentication_requirements', `the requested authentication level cannot be reached (${decision.reason})`);
    }
    const account = await deps.reads.account(ctx, state.accountId);
    if (!account || account.disabledAt) return finishWithError(deps, ctx, interaction, 'access_denied', 'the account is not available');
    const name = await clientName(interaction);
    const common = { uid: interaction.uid, clientName: name, email: account.email, reason: whyAsked(decision, name, { signals: state.risk?.fired, maxAge: state.requirement?.maxAge }), next: whatNext(decision), ...extra };
    const offer = offerFor(decision);
    if (!offer) return finishWithError(deps, ctx, interaction, 'unmet_authentication_requirements', 'no step can reach the requested level');

    if (offer.kind === 'enroll') {
      const wanted = String(extra.choice ?? ctx.query.enroll ?? '');
      const choice = offer.choices.find((c) => c === wanted) ?? (offer.choices.length === 1 ? offer.choices[0] : undefined);
      if (choice) return enrollmentPage(ctx, state, choice, common, { factorId: typeof extra.factorId === 'string' ? extra.factorId : undefined });
      const choices = offer.choices.map((c) => ({ choice: c, name: deps.enrollments[c].name, hint: deps.enrollments[c].hint }));
      return kit.page(ctx, 'enroll-choice.njk', { title: 'Add a second step', step: 'enroll_choice', choices, ...common });
    }

    if (offer.step === 'primary') {
      // a known user re-verifying: their own passkeys (user verification required), if they have any
      const passkeys = offer.factors.includes('webauthn') ? credentialsForSteps(deps.policy, decision.missing.slice(0, 1), await deps.factorDeps.factors.webAuthnCredentials(state.accountId)) : [];
      const passkeyOptions = passkeys.length ? await prepareAssertion(deps.factorDeps, interaction.uid, { accountId: state.accountId, allow: passkeys, requireUserVerification: true }) : undefined;
      const reason = decision.enrollmentAllowed ? ENROLL_FRESH_PASSWORD : common.reason;
      return kit.page(ctx, 'login.njk', { title: 'Confirm it is you', step: 'password', fixedAccount: true, passkeyOptions, ...common, reason });
    }

    const wanted = String(extra.method ?? ctx.query.use ?? '');
    const method: FactorKind | undefined = offer.factors.find((f) => f === wanted) ?? offer.factors[0];
    const factor = method ? deps.registry[method] : undefined;
    if (!factor?.page) return finishWithError(deps, ctx, interaction, 'unmet_authentication_requirements', 'no enrolled factor can reach the requested level');
    const shown = await factor.page({ ctx, interactionUid: interaction.uid, accountId: state.accountId, missing: decision.missing });
    const others = offer.factors.filter((f) => f !== method).map((f) => ({ use: f, text: SWITCH_LINKS[f] }));
    kit.page(ctx, shown.view, { step: method, ...common, ...shown.context, others });
  };

  /**
   * After a verified factor: when it was the last step the login finishes here, answered with a 303 to
   * oidc-provider's resume; otherwise a 303 to the page of the next step (post/redirect/get).
   */
  const afterVerified = async (ctx: Context, interaction: InteractionDetails, progress: InteractionProgress) => {
    const state = await resolveFlow(deps, interaction, ctx, { progress });
    if (state.decision?.outcome === 'satisfied' && !state.risk?.deny) return finishLogin(deps, ctx, { ...state, decision: state.decision });
    return seeOther(ctx, `/interaction/${interaction.uid}`);
  };

  return { proceed, afterVerified };
}

export type NextStep = ReturnType<typeof createNextStep>;
