import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { clientAcrSettings, type ClientInstance } from '../oidc/client-metadata.js';
import { requestInputs, type StepUpResult } from '../oidc/policy.js';
import type { RiskRecord, RiskSignals } from '../risk/signals.js';
import { assessRisk, decide, parseRequirement, type Decision, type EnrolledFactor, type Policy, type Requirement } from '../stepup/index.js';
import type { SessionEventsStore, StoredFactorEvent } from '../store/redis/session-events.js';
import type { InteractionProgress, ProgressStore } from './progress.js';

/**
 * Where an interaction stands: who is signing in, what is already proven (the session's events plus
 * this interaction's), and what stepup's one decision (stepup/decide.ts) says comes next. Recomputed
 * from server-side state on every page and every POST; nothing about the user's level comes from the browser.
 */
export type InteractionDetails = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface FlowDeps {
  provider: Provider;
  policy: Policy;
  progress: ProgressStore;
  sessionEvents: SessionEventsStore;
  /** memoized for the request when given its context as scope */
  enrolledFactors: (accountId: string, scope?: object) => Promise<EnrolledFactor[]>;
  now: () => number;
  /** issue #16: risk signals (absent, or every signal off: none) */
  risk?: RiskSignals;
}

export interface FlowState {
  interaction: InteractionDetails;
  accountId?: string;
  progress?: InteractionProgress;
  requirement?: Requirement;
  /** the session's events that count for this account, then this interaction's */
  events: StoredFactorEvent[];
  /** what the account can authenticate with, as read by this request */
  enrolled?: EnrolledFactor[];
  decision?: Decision;
  /** the interaction's target (issue #23), to keep with its progress */
  target?: string;
  /** issue #16: this interaction's risk signals, gathered when the account was identified */
  risk?: RiskRecord;
}

/**
 * @param scope the request's context: the account's factors are read once per request
 * @param known the progress this request just wrote (recordEvent), so it is not read back
 */
export async function resolveFlow(deps: FlowDeps, interaction: InteractionDetails, scope: object, known?: { progress: InteractionProgress }): Promise<FlowState> {
  const progress = known ? known.progress : await deps.progress.get(interaction.uid);
  const sessionAccount = interaction.session?.accountId;
  const accountId = progress?.accountId ?? sessionAccount;
  if (!accountId) return { interaction, events: [] };

  const client = typeof interaction.params.client_id === 'string' ? await deps.provider.Client.find(interaction.params.client_id) : undefined;
  // the session's events count only for its own account
  const sessionEvents = sessionAccount === accountId && interaction.session?.uid ? await deps.sessionEvents.get(interaction.session.uid, accountId) : [];
  const enrolled = await deps.enrolledFactors(accountId, scope);
  const fresh = progress?.events ?? [];
  // issue #16: the demands of the signals gathered when this interaction identified the account
  const risk = progress?.accountId === accountId ? progress.risk : undefined;
  const { requirement, decision, target } = decide({
    policy: deps.policy,
    request: requestInputs(interaction.params),
    client: clientAcrSettings(client as ClientInstance | undefined),
    sessionEvents,
    // once identified, the person is inside this interaction: its target holds from here on (issue #23)
    interaction: { events: fresh, ...(progress?.target ? { target: progress.target } : {}) },
    enrolled,
    now: deps.now(),
    ...(risk ? { demands: risk.demands } : {}),
  });
  const counted = requirement.freshLogin ? fresh : [...sessionEvents, ...fresh];
  return { interaction, accountId, progress, requirement, events: counted, enrolled, decision, target, ...(risk ? { risk } : {}) };
}

/**
 * Issue #16: the risk signals of this sign-in, gathered once, when a verification first identifies the
 * account in this interaction (before the success resets its failure counters), and judged against
 * this request and the account's factors (src/stepup/risk.ts). Undefined when the interaction already
 * has them for this account, or every signal is off.
 */
export async function gatherRisk(deps: FlowDeps, ctx: Context, state: FlowState, account: { id: string; email: string }): Promise<RiskRecord | undefined> {
  if (!deps.risk?.enabled || (state.progress?.accountId === account.id && state.progress.risk)) return undefined;
  const gathered = await deps.risk.gather(ctx, account);
  if (!gathered) return undefined;
  const { interaction } = state;
  const client = typeof interaction.params.client_id === 'string' ? await deps.provider.Client.find(interaction.params.client_id) : undefined;
  const requirement = parseRequirement(deps.policy, requestInputs(interaction.params), clientAcrSettings(client as ClientInstance | undefined));
  const enrolled = await deps.enrolledFactors(account.id, ctx);
  return { ...gathered, ...assessRisk({ policy: deps.policy, requirement, facts: gathered.facts, enrolled, now: deps.now() }) };
}

const ttlOf = (interaction: InteractionDetails) => interaction.exp - Math.floor(Date.now() / 1000);

/**
 * Keeps the interaction's target with its progress (issue #23) before anything can change what the
 * account can reach (an enrollment), so the target stays the one chosen when the interaction started.
 */
export async function pinTarget(deps: FlowDeps, state: FlowState): Promise<InteractionProgress | undefined> {
  if (!state.accountId || state.progress?.target || !state.target) return state.progress;
  const progress: InteractionProgress =
    state.progress && state.progress.accountId === state.accountId
      ? { ...state.progress, target: state.target }
      : { accountId: state.accountId, startedAt: deps.now(), events: [], target: state.target };
  await deps.progress.put(state.interaction.uid, progress, ttlOf(state.interaction));
  return progress;
}

/**
 * Records a verified factor in the interaction's progress, with the interaction's target.
 * @param state what this request resolved (not read again). Two requests of one interaction racing each
 * other can lose an event this way (as with any read-then-write), never gain one.
 */
export async function recordEvent(deps: FlowDeps, state: FlowState, accountId: string, event: StoredFactorEvent, risk?: RiskRecord): Promise<InteractionProgress> {
  const current = state.progress;
  const progress: InteractionProgress =
    current && current.accountId === accountId
      ? { ...current, events: [...current.events, event], ...(current.target || !state.target ? {} : { target: state.target }), ...(risk ? { risk } : {}) }
      : // the first verification identifies the account: its target is decided from what came before it
        { accountId, startedAt: deps.now(), events: [event], ...(risk ? { risk } : {}) };
  await deps.progress.put(state.interaction.uid, progress, ttlOf(state.interaction));
  return progress;
}

/** Finishes the interaction exactly once, with every step proven: oidc-provider resumes the authorization. */
export async function finishLogin(deps: FlowDeps, ctx: Context, state: FlowState & { decision: Extract<Decision, { outcome: 'satisfied' }> }) {
  const stepup: StepUpResult = {
    events: state.progress?.events ?? [],
    startedAt: state.progress?.startedAt ?? deps.now(),
    ...(state.progress?.target ?? state.target ? { target: state.progress?.target ?? state.target } : {}),
    // issue #16: the check at the resume applies the same demands, and names the signals in the audit trail
    ...(state.risk ? { demands: state.risk.demands, signals: state.risk.fired } : {}),
  };
  // a device and network become known before the sign-in is handed back (a failure here fails the sign-in)
  if (state.risk && deps.risk) await deps.risk.finished(ctx, state.accountId!, state.risk, String(state.interaction.params.client_id), deps.now());
  const returnTo = await deps.provider.interactionResult(
    ctx.req,
    ctx.res,
    {
      login: { accountId: state.accountId!, acr: state.decision.acr, amr: state.decision.amr, ts: state.decision.authTime, remember: true },
      stepup,
    },
    { mergeWithLastSubmission: false },
  );
  await deps.progress.drop(state.interaction.uid);
  ctx.status = 303;
  ctx.redirect(returnTo);
}

export async function finishWithError(deps: FlowDeps, ctx: Context, interaction: InteractionDetails, error: string, description: string) {
  const returnTo = await deps.provider.interactionResult(ctx.req, ctx.res, { error, error_description: description }, { mergeWithLastSubmission: false });
  await deps.progress.drop(interaction.uid);
  ctx.status = 303;
  ctx.redirect(returnTo);
}
