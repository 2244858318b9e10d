import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { clientAcrSettings, type ClientInstance } from '../oidc/client-metadata.js';
import { requestInputs, type StepUpResult } from '../oidc/policy.js';
import { evaluate, parseRequirement, type Decision, type EnrolledFactor, type Policy, type Requirement } from '../stepup/index.js';
import type { SessionEventsStore, StoredFactorEvent } from '../store/redis/session-events.js';
import type { InteractionProgress, ProgressStore } from './progress.js';

/**
 * Where an interaction stands: who is signing in, what is already proven (the session's events plus
 * this interaction's), and what the policy decides next. Recomputed from server-side state on every
 * page and every POST; nothing about the user's level comes from the browser.
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
}

export interface FlowState {
  interaction: InteractionDetails;
  accountId?: string;
  progress?: InteractionProgress;
  requirement: Requirement;
  events: StoredFactorEvent[];
  /** what the account can authenticate with, as read by this request */
  enrolled?: EnrolledFactor[];
  decision?: Decision;
}

/**
 * @param scope the request's context: the account's factors are read once per request
 * @param known the progress this request just wrote (recordEvent), so it is not read back
 */
export async function resolveFlow(deps: FlowDeps, interaction: InteractionDetails, scope: object, known?: { progress: InteractionProgress }): Promise<FlowState> {
  const progress = known ? known.progress : await deps.progress.get(interaction.uid);
  const sessionAccount = interaction.session?.accountId;
  const accountId = progress?.accountId ?? sessionAccount;
  const client = typeof interaction.params.client_id === 'string' ? await deps.provider.Client.find(interaction.params.client_id) : undefined;
  const requirement = parseRequirement(deps.policy, requestInputs(interaction.params), clientAcrSettings(client as ClientInstance | undefined));
  if (!accountId) return { interaction, requirement, events: [] };

  const fresh = progress?.events ?? [];
  // the session's events count only for its own account, and not at all for prompt=login / max_age=0
  const sessionEvents =
    sessionAccount === accountId && interaction.session?.uid && !requirement.freshLogin
      ? await deps.sessionEvents.get(interaction.session.uid, accountId)
      : [];
  const events = [...sessionEvents, ...fresh];
  const effective = requirement.freshLogin && fresh.length > 0 ? { ...requirement, freshLogin: false } : requirement;
  const enrolled = await deps.enrolledFactors(accountId, scope);
  const decision = evaluate({ policy: deps.policy, requirement: effective, events, enrolled, now: deps.now() });
  return { interaction, accountId, progress, requirement, events, enrolled, decision };
}

/**
 * Records a verified factor in the interaction's progress.
 * @param current the progress as this request read it (resolveFlow): not read again. Two requests of one
 * interaction racing each other can lose an event this way (as with any read-then-write), never gain one.
 */
export async function recordEvent(
  deps: FlowDeps,
  interaction: InteractionDetails,
  accountId: string,
  event: StoredFactorEvent,
  current: InteractionProgress | undefined,
): Promise<InteractionProgress> {
  const progress: InteractionProgress =
    current && current.accountId === accountId
      ? { ...current, events: [...current.events, event] }
      : { accountId, startedAt: deps.now(), events: [event] };
  await deps.progress.put(interaction.uid, progress, interaction.exp - Math.floor(Date.now() / 1000));
  return progress;
}

/** Finishes the interaction exactly once, with every step proven: oidc-provider resumes the authorization. */
export async function finishLogin(deps: FlowDeps, ctx: Context, state: FlowState & { decision: Extract<Decision, { outcome: 'satisfied' }> }) {
  const stepup: StepUpResult = { events: state.progress?.events ?? [], startedAt: state.progress?.startedAt ?? deps.now() };
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
