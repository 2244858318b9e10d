import type { Demand } from './decide.js';
import { highestReachableLevel } from './enrollment.js';
import { levelOf, type Policy } from './levels.js';
import type { Requirement } from './requirement.js';
import type { RiskPolicy, RiskReason } from './risk-policy.js';
import type { EnrolledFactor } from './steps.js';

/**
 * Issue #16: risk signals. The context of a sign-in (a device or a network the account never signed in
 * from, a run of failed attempts) can demand a step the app did not ask for. The rule that keeps it
 * safe: a signal raises what is required, never what is granted; the issued acr still says only what
 * was proven (decide() applies demands like a client's minimum_acr, SPEC §2 rule 1). Pure: the facts are
 * gathered elsewhere (src/risk/), once per interaction, and kept with its progress.
 */

export { DEFAULT_RISK_POLICY, RISK_REASONS, type OnUnreachable, type RiskPolicy, type RiskReason } from './risk-policy.js';

/** Whether any signal is on: when none is, nothing is gathered (no cookie, no query). */
export const riskEnabled = (risk: RiskPolicy | undefined): risk is RiskPolicy =>
  risk !== undefined && (risk.newDevice.enabled || risk.newNetwork.enabled || risk.recentFailures.enabled);

/** What is known about this sign-in, gathered once when the interaction identifies the account. */
export interface RiskFacts {
  /** the browser carries a valid device cookie naming a device this account already signed in from */
  knownDevice: boolean;
  /** the client IP's network is one the account already signed in from */
  knownNetwork: boolean;
  /** failed attempts counted on the account right now, from any IP */
  recentFailures: number;
}

/** A signal that fired and what it demanded; `outcome` says what became of the demand. */
export interface FiredSignal {
  reason: RiskReason;
  demanded: string;
  /**
   * applied: the requirement is at least the demanded level. moot: the app already asks at least that.
   * unreachable: the account cannot reach it without enrolling a factor (onUnreachable decides).
   */
  outcome: 'applied' | 'moot' | 'unreachable';
}

export interface RiskAssessment {
  fired: FiredSignal[];
  /** the demands to hand to decide() */
  demands: Demand[];
  /** onUnreachable "deny" and a demand the account cannot reach */
  deny: boolean;
}

/** The signals that fire for these facts, each with what it demands. Several at once: decide() keeps the highest. */
export function riskDemands(facts: RiskFacts, risk: RiskPolicy | undefined): Demand[] {
  if (!risk) return [];
  const demands: Demand[] = [];
  if (risk.newDevice.enabled && !facts.knownDevice) demands.push({ acr: risk.newDevice.demand, reason: 'new_device' });
  if (risk.newNetwork.enabled && !facts.knownNetwork) demands.push({ acr: risk.newNetwork.demand, reason: 'new_network' });
  if (risk.recentFailures.enabled && facts.recentFailures >= risk.recentFailures.threshold) {
    demands.push({ acr: risk.recentFailures.demand, reason: 'recent_failures' });
  }
  return demands;
}

/**
 * The signals' demands against this request and this account. A demand the app's request already
 * meets or exceeds (every requested level at least as high) changes nothing: moot. A demand the account
 * cannot reach with its enrolled factors is unreachable: it is dropped (notify) or ends the sign-in
 * (deny), but it is never handed to decide(), where it could lead to enrolling a first second factor
 * (SPEC §4 self-enrollment), which a signal must never offer.
 */
export function assessRisk(args: { policy: Policy; requirement: Requirement; facts: RiskFacts; enrolled: EnrolledFactor[]; now: number }): RiskAssessment {
  const { policy, requirement, facts, enrolled, now } = args;
  const risk = policy.risk;
  const reachable = highestReachableLevel(policy, enrolled, now)?.rank ?? 0;
  const requestedRanks = requirement.requested.map((acr) => levelOf(policy, acr)?.rank ?? 0);
  const fired: FiredSignal[] = [];
  const demands: Demand[] = [];
  for (const demand of riskDemands(facts, risk)) {
    const level = levelOf(policy, demand.acr);
    const raises = level !== undefined && !requirement.unmetReason && (requestedRanks.length === 0 || requestedRanks.some((rank) => rank < level.rank));
    if (!level || !raises) {
      fired.push({ reason: demand.reason as RiskReason, demanded: demand.acr, outcome: 'moot' });
    } else if (level.rank > reachable) {
      fired.push({ reason: demand.reason as RiskReason, demanded: demand.acr, outcome: 'unreachable' });
    } else {
      fired.push({ reason: demand.reason as RiskReason, demanded: demand.acr, outcome: 'applied' });
      demands.push(demand);
    }
  }
  const deny = risk?.onUnreachable === 'deny' && fired.some((f) => f.outcome === 'unreachable');
  return { fired, demands, deny };
}
