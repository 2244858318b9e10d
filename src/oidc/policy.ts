import { errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { Audit } from '../audit/audit.js';
import { decide, explain, parseRequirement, type AuthorizationInputs, type DecisionInputs, type Demand, type EnrolledFactor, type FactorEvent, type FiredSignal, type Policy } from '../stepup/index.js';
import type { SessionEventsStore } from '../store/redis/session-events.js';
import { clientAcrSettings, type ClientInstance } from './client-metadata.js';
import { decisionRecord, factorsUsed, newSignInId, SIGN_IN_ID } from './decision-record.js';

/**
 * The only bridge between oidc-provider and the pure policy in src/stepup/ (SPEC §2).
 *
 * oidc-provider never enforces acr_values and compares an essential acr with the session's single acr
 * by equality, so its own max_age / essential_acr(s) checks are replaced by one check that evaluates
 * the request against the session's factor events. When the session satisfies the request, the
 * check writes the per-request answer (acr, amr, auth_time) onto the session so the authorization
 * code, ID token and refresh token carry exactly that (SPEC §2 rule 2).
 */
export const STEPUP_CHECK = 'stepup_required';

/** What an interaction hands to resume, next to `login` (kept server-side in the Interaction record). */
export interface StepUpResult {
  events: FactorEvent[];
  /** when the interaction started: with prompt=login / max_age=0 only its own events count */
  startedAt: number;
  /** the target chosen when the interaction started (issue #23) */
  target?: string;
  /** issue #16: what the interaction's risk signals demanded (applied to this check too) */
  demands?: Demand[];
  /** issue #16: every signal that fired, what it demanded and what became of it (for the audit trail) */
  signals?: FiredSignal[];
}

export interface PolicyBridgeDeps {
  policy: Policy;
  sessionEvents: SessionEventsStore;
  /** memoized for the request when given its context as scope */
  enrolledFactors: (accountId: string, scope?: object) => Promise<EnrolledFactor[]>;
  audit: Audit;
  now: () => number;
}

export function requestInputs(params: Record<string, unknown>): AuthorizationInputs {
  const maxAge = params.max_age === undefined || params.max_age === null ? undefined : Number(params.max_age);
  return {
    acrValues: typeof params.acr_values === 'string' ? params.acr_values : undefined,
    claims: params.claims,
    maxAge: Number.isFinite(maxAge) ? maxAge : undefined,
    prompt: typeof params.prompt === 'string' ? params.prompt : undefined,
  };
}


/**
 * Issue #19: the decisions of one authorization request share a sign-in id. A decision that prompts
 * hands its id to the Interaction (the check's details land in `prompt.details`), and the decision at
 * the resume reads it back; a sign-in that started without a session takes the interaction's uid.
 */
const SIGN_IN_DETAIL = 'stepup_sign_in';
const promptedSignIns = new WeakMap<object, string>();

function resumedSignIn(ctx: KoaContextWithOIDC): string {
  const interaction = ctx.oidc.entities.Interaction as { uid?: string; prompt?: { details?: Record<string, unknown> } } | undefined;
  const carried = interaction?.prompt?.details?.[SIGN_IN_DETAIL];
  if (typeof carried === 'string' && SIGN_IN_ID.test(carried)) return carried;
  return typeof interaction?.uid === 'string' && SIGN_IN_ID.test(interaction.uid) ? interaction.uid : newSignInId();
}

export function createStepUpPolicy(deps: PolicyBridgeDeps) {
  const policy = interactionPolicy.base();
  const login = policy.get('login')!;
  // replaced by STEPUP_CHECK (see above); no_session, login_prompt, id_token_hint and claims sub checks stay
  for (const reason of ['max_age', 'essential_acr', 'essential_acrs']) login.checks.remove(reason);

  login.checks.add(
    new interactionPolicy.Check(
      STEPUP_CHECK,
      'the requested authentication level is not satisfied by the current session',
      // SPEC §2 rule 7: prompt=none when a prompt would be needed answers login_required
      'login_required',
      async (ctx: KoaContextWithOIDC) => {
        const session = ctx.oidc.session;
        const params = ctx.oidc.params as Record<string, unknown>;
        const client = clientAcrSettings(ctx.oidc.client as ClientInstance | undefined);
        const request = requestInputs(params);
        const result = ctx.oidc.result as { login?: unknown; consent?: unknown; stepup?: StepUpResult } | undefined;
        const resumed = Boolean(result?.login);
        // issue #16: every risk signal the interaction gathered that fired, and what it demanded (applied, moot or unreachable)
        const signals = (resumed ? result?.stepup?.signals : undefined) ?? [];
        /** issue #17 (the sign-in and step-up metrics): `ends` names the sign-in or step-up this decision ends, if it ends one */
        const audit = (trace: ReturnType<typeof explain>, signIn: string, extra: Pick<Parameters<typeof decisionRecord>[0], 'stepsAsked' | 'factorsUsed'> = {}, ends?: 'sign_in' | 'step_up') =>
          deps.audit.record({
            type: 'stepup.decision',
            outcome: trace.outcome.code === 'satisfied' ? 'success' : trace.outcome.code === 'unmet' ? 'failure' : 'info',
            reason: trace.outcome.reason,
            subject: session?.accountId,
            clientId: ctx.oidc.client?.clientId,
            ip: ctx.ip,
            userAgent: ctx.get('user-agent'),
            requestId: ctx.state?.requestId,
            details: { ...decisionRecord({ signIn, resumed, trace, ...extra }), signals, ...(ends ? { ends } : {}) },
          });

        // an essential acr naming only unknown values can never be met: say so before anyone signs in (rule 4)
        const { unmetReason } = parseRequirement(deps.policy, request, client);
        if (unmetReason) {
          await audit(explain({ policy: deps.policy, request, client, sessionEvents: [], enrolled: [], now: deps.now() }), resumed ? resumedSignIn(ctx) : newSignInId(), {}, session?.accountId ? 'step_up' : 'sign_in');
          throw new errors.UnmetAuthenticationRequirements(`requested authentication level is not supported (${unmetReason})`);
        }
        if (!session?.accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT; // no_session handles it
        const accountId = session.accountId;
        const enrolled = await deps.enrolledFactors(accountId, ctx);
        const pinned = result?.stepup?.target;
        const sessionEvents = await deps.sessionEvents.get(session.uid, accountId);
        const inputs: DecisionInputs = {
          policy: deps.policy,
          request,
          client,
          sessionEvents,
          // on resume: what the interaction proved, towards the target it started with
          ...(resumed ? { interaction: { events: result?.stepup?.events ?? [], ...(pinned ? { target: pinned } : {}) } } : {}),
          enrolled,
          now: deps.now(),
          // issue #16: the same demands as the interaction's pages (a signal raises what is required, never what is granted)
          ...(resumed && result?.stepup?.demands ? { demands: result.stepup.demands } : {}),
        };
        const { decision } = decide(inputs);

        // issue #19: the decision's trace (explain() calls the same decide()); at the resume, also what the
        // interaction asked for and the factors it used
        const signIn = resumed ? resumedSignIn(ctx) : newSignInId();
        const interactionEvents = result?.stepup?.events ?? [];
        const asked = resumed ? explain({ ...inputs, interaction: { events: [], ...(pinned ? { target: pinned } : {}) } }).steps : undefined;
        // it ends at the resume of its interaction (not again when a consent resume repeats the login result),
        // or refused before any prompt; a step-up lifts a session that had proven something before
        const ends = (resumed && !result?.consent) || decision.outcome === 'unmet' ? (sessionEvents.length > 0 ? 'step_up' : 'sign_in') : undefined;
        await audit(explain(inputs), signIn, resumed ? { stepsAsked: asked ?? [], factorsUsed: factorsUsed(interactionEvents, enrolled) } : {}, ends);

        if (decision.outcome === 'satisfied') {
          if (resumed) await deps.sessionEvents.append(session.uid, accountId, interactionEvents);
          session.acr = decision.acr;
          session.amr = decision.amr;
          session.loginTs = decision.authTime;
          return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        }
        if (decision.outcome === 'unmet' || resumed) {
          // SPEC §2 rule 4: the RP gets unmet_authentication_requirements at its redirect_uri; after an
          // interaction that still fell short, throwing here (not prompting) is what prevents a loop
          throw new errors.UnmetAuthenticationRequirements(
            decision.outcome === 'unmet' ? `requested authentication level cannot be reached (${decision.reason})` : 'the authentication did not reach the requested level',
          );
        }
        promptedSignIns.set(ctx, signIn);
        return interactionPolicy.Check.REQUEST_PROMPT;
      },
      // lands in the Interaction's prompt.details: the resume's decision joins this sign-in (issue #19)
      (ctx: KoaContextWithOIDC) => {
        const signIn = promptedSignIns.get(ctx);
        return signIn ? { [SIGN_IN_DETAIL]: signIn } : {};
      },
    ),
    0,
  );
  return policy;
}
