import { evaluate, type Decision } from './evaluate.js';
import type { FactorEvent } from './factor-events.js';
import { levelOf, type Policy } from './levels.js';
import { parseRequirement, type AuthorizationInputs, type ClientAcrSettings, type Requirement } from './requirement.js';
import type { EnrolledFactor } from './steps.js';

/**
 * The one decision of stepup (SPEC §2): what an authorization request gets, given what the session
 * proved before it and what this interaction has proven so far. The oidc-provider check
 * (src/oidc/policy.ts) and the sign-in pages (src/interactions/) both call this function and nothing
 * else, so the page a person is shown and the answer the RP gets cannot disagree.
 */

/**
 * A demand from outside the request (a risk signal, issue #16): "this sign-in needs at least `acr`".
 * It can only raise what is required, never what is granted: the issued acr still says only what was proven.
 */
export interface Demand {
  acr: string;
  /** a stable reason code, for the audit trail and the page's wording */
  reason: string;
}

export interface DecisionInputs {
  policy: Policy;
  /** the authorization request (acr_values, claims, max_age, prompt) */
  request: AuthorizationInputs;
  /** the client's registered default_acr_values and minimum_acr */
  client: ClientAcrSettings;
  /** the session's factor events for the account being signed in (empty for another account) */
  sessionEvents: readonly FactorEvent[];
  /** this interaction's own verifications and its target, once it has started */
  interaction?: { events: readonly FactorEvent[]; target?: string };
  enrolled: EnrolledFactor[];
  /** epoch seconds */
  now: number;
  /** raise the requirement (never lower it) */
  demands?: readonly Demand[];
}

export interface DecisionResult {
  requirement: Requirement;
  decision: Decision;
  /**
   * Issue #23 / SPEC §2 rule 3: the target chosen when the interaction started, from what the session
   * held before the prompt. Kept with the interaction's progress and handed back as
   * `interaction.target`, so a level reached half-way (a password for "aal2 aal1") never ends it early.
   */
  target?: string;
}

export function decide(inputs: DecisionInputs): DecisionResult {
  const { policy, enrolled, now } = inputs;
  const requirement = raise(policy, parseRequirement(policy, inputs.request, inputs.client), inputs.demands ?? []);
  // Rule 6: prompt=login / max_age=0: nothing the session proved before counts
  const before = requirement.freshLogin ? [] : inputs.sessionEvents;
  const opening = evaluate({ policy, requirement, events: [...before], enrolled, now });
  const fresh = inputs.interaction?.events ?? [];
  if (!inputs.interaction || (fresh.length === 0 && inputs.interaction.target === undefined)) {
    return { requirement, decision: opening, target: opening.outcome === 'step_up' ? opening.target : undefined };
  }

  const target = inputs.interaction.target ?? (opening.outcome === 'step_up' ? opening.target : undefined);
  // the interaction's own verifications are the fresh authentication prompt=login asked for
  const effective = requirement.freshLogin && fresh.length > 0 ? { ...requirement, freshLogin: false } : requirement;
  const decision = evaluate({ policy, requirement: effective, events: [...before, ...fresh], enrolled, now, ...(target ? { target } : {}) });
  return { requirement, decision, target };
}

/**
 * A demand works like a client's minimum_acr (SPEC §2 rule 1): requested values below it are dropped
 * and, when none remain, the demanded level is the target. An unknown demanded acr raises nothing.
 */
function raise(policy: Policy, requirement: Requirement, demands: readonly Demand[]): Requirement {
  if (requirement.unmetReason) return requirement;
  let result = requirement;
  for (const demand of demands) {
    const floor = levelOf(policy, demand.acr);
    if (!floor) continue;
    const kept = result.requested.filter((acr) => (levelOf(policy, acr)?.rank ?? 0) >= floor.rank);
    result = { ...result, requested: kept.length > 0 ? kept : [floor.acr] };
  }
  return result;
}
