import type { FactorEvent } from './factor-events.js';
import type { EnrollmentChoice, FactorKind } from './factor-kinds.js';
import { lastVerification, tokenClaimsFor, walkChain, type SessionChain } from './held-levels.js';
import { levelOf, lowestLevel, type LevelDefinition, type Policy, type StepKind } from './levels.js';
import type { Requirement, RequirementUnmetReason } from './requirement.js';
import { enrolledKindsForStep, enrolledPrimaryKinds, enrollmentChoicesFor, hasSecondFactor, provesStep, NO_KINDS, type EnrolledFactor } from './steps.js';

/** SPEC §4: adding a factor needs a primary verification no older than this (NIST SP 800-63B rev 4 §4.1). */
export const ENROLLMENT_FRESHNESS_SECONDS = 5 * 60;

/**
 * SPEC §2, "What an authorization request gets", as one pure function of (policy, requirement, the
 * session's factor events, the user's enrolled factors, now). evaluate() below reads in this order:
 *
 *   rule 6  prompt=login / max_age=0: nothing proven before counts
 *   rule 4  a request that can never be met
 *   rule 5  no acr requested: the highest level held
 *   rule 2  a requested value already held (and max_age met): no prompt
 *   rule 3  otherwise step up to the first reachable requested value, asking only for the missing steps
 *   rule 4  nothing reachable: unmet, except a first second factor enrolled on the way (SPEC §4)
 *
 * Inside an interaction the target chosen when it started stays the target (`target`, issue #23):
 * rule 2 speaks of what the session held before the prompt, never of a level reached half-way.
 *
 * Rule 7 (prompt=none) belongs to the protocol layer: a `step_up` decision there answers login_required.
 * Rules 8 and 9 (amr, auth_time) are tokenClaimsFor() and amrForEvent().
 */

/** Stable reasons: they appear in logs, the audit trail and the UI. */
export type SatisfiedReason =
  /** rule 2 */
  | 'already_held'
  /** rule 3: inside an interaction, its target (chosen when it started) is now held */
  | 'target_reached'
  /** rule 5 */
  | 'no_acr_requested';
export type StepUpReason =
  /** the session has no factor verification at all */
  | 'no_session'
  /** a level up to the target is not held (never reached, or its window passed) */
  | 'level_not_held'
  /** rule 6: the target is held but the last active verification is older than max_age */
  | 'max_age_exceeded'
  /** rule 6: prompt=login or max_age=0 */
  | 'fresh_login_requested';
export type UnmetReason =
  | RequirementUnmetReason
  /** rule 4: no requested level can be reached with the user's enrolled factors */
  | 'no_enrolled_factor_for_target'
  /** rule 4 / SPEC §4: only enrolling a first second factor would help, and the policy's selfEnrollment is off */
  | 'self_enrollment_disabled';

/**
 * Every reason a decision can carry, as values (issue #17: the bounded `reason` label of the decision
 * metric). `satisfies` and the check below fail to compile when a reason is added to the types but not here.
 */
export const DECISION_REASONS = [
  'already_held',
  'target_reached',
  'no_acr_requested',
  'no_session',
  'level_not_held',
  'max_age_exceeded',
  'fresh_login_requested',
  'essential_acr_unknown',
  'client_minimum_acr_unknown',
  'no_enrolled_factor_for_target',
  'self_enrollment_disabled',
] as const satisfies readonly Decision['reason'][];
export type DecisionReason = (typeof DECISION_REASONS)[number];
type UnlistedReason = Exclude<Decision['reason'], DecisionReason>;
// a compile error here names the reason missing from DECISION_REASONS
export const EVERY_DECISION_REASON_LISTED: [UnlistedReason] extends [never] ? true : UnlistedReason = true;

/** A step the user is asked for, with the kinds of their enrolled factors that can prove it. */
export interface MissingStep {
  acr: string;
  step: StepKind;
  allowedFactors: FactorKind[];
}

export type Decision =
  | { outcome: 'satisfied'; acr: string | undefined; amr: string[]; authTime: number; held: string[]; reason: SatisfiedReason }
  | {
      outcome: 'step_up';
      target: string;
      /** every level up to the target that is not held, lowest first (or the target's own step, to re-verify) */
      missing: MissingStep[];
      held: string[];
      reason: StepUpReason;
      /** SPEC §4: the steps above the primary one are reached by enrolling a first second factor */
      enrollmentAllowed: boolean;
      /** what may be enrolled for them, in the order to offer (empty unless enrollmentAllowed) */
      enroll: EnrollmentChoice[];
    }
  | { outcome: 'unmet'; reason: UnmetReason; held: string[] };

export interface EvaluateArgs {
  policy: Policy;
  requirement: Requirement;
  /** the session's factor verifications (SPEC §1) */
  events: FactorEvent[];
  enrolled: EnrolledFactor[];
  /** epoch seconds */
  now: number;
  /**
   * The interaction's target, chosen when it started (rule 3; issue #23). Given: only reaching it
   * satisfies the request, whatever else was requested; the issued acr is still the highest requested
   * value held (rule 2) or, with no acr requested, the highest level held (rule 5).
   */
  target?: string;
}

export function evaluate(args: EvaluateArgs): Decision {
  const { policy, requirement, enrolled, now } = args;

  // Rule 6: prompt=login (or max_age=0) asks for a full fresh authentication: every step up to the
  // target is verified again, so nothing the session proved before counts.
  const events = requirement.freshLogin ? [] : args.events;
  const chain = walkChain(policy, events, now);
  const held = chain.held.map((h) => h.level.acr);

  // Rule 4: a request that can never be met, whatever the session holds (an essential acr naming only
  // unknown values; a client minimum the policy does not know).
  if (requirement.unmetReason) return { outcome: 'unmet', reason: requirement.unmetReason, held };

  // Rule 6: max_age counts from the session's last active factor verification.
  const lastActive = lastVerification(events, now);
  const maxAgeMet = requirement.maxAge === undefined || (lastActive !== undefined && now - lastActive <= requirement.maxAge);

  const satisfied = (acr: string, reason: SatisfiedReason): Decision => {
    const claims = tokenClaimsFor(policy, acr, events, now); // rule 8: amr and auth_time
    return { outcome: 'satisfied', acr, amr: claims.amr, authTime: claims.authTime, held, reason };
  };

  // The levels to aim for, most preferred first.
  let targets: LevelDefinition[];
  const pinned = args.target === undefined ? undefined : levelOf(policy, args.target);
  if (pinned) {
    if (held.includes(pinned.acr) && maxAgeMet) {
      const requested = requirement.requested.map((acr) => levelOf(policy, acr)).filter((l): l is LevelDefinition => l !== undefined);
      const issued = requested.length === 0 ? chain.held.at(-1)?.level : highestRank(requested.filter((l) => held.includes(l.acr)));
      return satisfied((issued ?? pinned).acr, 'target_reached');
    }
    targets = [pinned];
  } else if (requirement.requested.length === 0) {
    // Rule 5: no acr requested (and no client default or minimum): the highest level the session holds.
    const highestHeld = chain.held.at(-1)?.level;
    if (highestHeld && maxAgeMet) return satisfied(highestHeld.acr, 'no_acr_requested');
    // Nothing held, or max_age passed: a primary factor, the step of the lowest level (rule 6: "for aal1: a primary factor").
    targets = [lowestLevel(policy)];
  } else {
    const requested = requirement.requested.map((acr) => levelOf(policy, acr)).filter((l): l is LevelDefinition => l !== undefined);
    // Rule 2: the session already holds a requested value (and max_age is met): no prompt, and the
    // ID token's acr is the highest requested value held.
    const highestHeldRequested = highestRank(requested.filter((l) => held.includes(l.acr)));
    if (highestHeldRequested && maxAgeMet) return satisfied(highestHeldRequested.acr, 'already_held');
    // Rule 6: held, but max_age is not met: re-verify the step of the level that would be issued, first.
    targets = highestHeldRequested ? [highestHeldRequested, ...requested.filter((l) => l !== highestHeldRequested)] : requested;
  }

  // Why the user is asked: a stable reason for logs, the audit trail and the page's wording.
  const stepUpReason = (plan: Plan): StepUpReason => {
    if (requirement.freshLogin) return 'fresh_login_requested';
    if (events.length === 0) return 'no_session';
    return plan.reverify ? 'max_age_exceeded' : 'level_not_held';
  };
  const stepUp = (plan: Plan, enroll: EnrollmentChoice[] = []): Decision => ({
    outcome: 'step_up',
    target: plan.target.acr,
    missing: plan.missing,
    held,
    reason: stepUpReason(plan),
    enrollmentAllowed: enroll.length > 0,
    enroll,
  });

  // Rule 3: the target is the first requested value the user can reach with enrolled factors; the
  // user is asked only for the missing steps (a password session asked for aal2 sees the second
  // factor, never the password again), choosing among the enrolled factors that fit.
  const plans = targets.map((target) => planStepUp(policy, target, chain, enrolled));
  const reachable = plans.find((plan) => plan.missing.every((step) => step.allowedFactors.length > 0));
  if (reachable) return stepUp(reachable);

  // Rule 4 exception (SPEC §4 selfEnrollment): a user with no second factor at all may enroll one during
  // the step-up, right after a fresh primary verification, and then continues. It applies to the first
  // target that one enrolled factor can reach: an authenticator app, passkey or security key for aal2, a
  // passkey or security key for phr, a security key (device-bound) for phrh.
  if (!hasSecondFactor(enrolled)) {
    const primary = lowestLevel(policy);
    const primaryKinds = held.includes(primary.acr) ? chain.primaryKinds : enrolledPrimaryKinds(enrolled);
    for (const plan of plans) {
      const above = plan.missing.filter((step) => step.step !== 'primary');
      if (above.length === 0 || plan.missing.some((step) => step.step === 'primary' && step.allowedFactors.length === 0)) continue;
      const choices = enrollmentChoicesFor(above.map((step) => levelOf(policy, step.acr)!), primaryKinds);
      if (choices.length === 0) continue;
      if (!policy.selfEnrollment) return { outcome: 'unmet', reason: 'self_enrollment_disabled', held };
      // SPEC §4: the primary verification must be at most 5 minutes old; an older one is asked again first
      const freshPrimary = events.some((e) => e.at <= now && now - e.at <= ENROLLMENT_FRESHNESS_SECONDS && provesStep(e, primary, NO_KINDS));
      const primaryStep = plan.missing.find((step) => step.step === 'primary') ?? {
        acr: primary.acr,
        step: primary.step,
        allowedFactors: enrolledKindsForStep(primary, enrolled, NO_KINDS),
      };
      const missing = [...(freshPrimary ? [] : [primaryStep]), ...above.map((step) => ({ ...step, allowedFactors: [] }))];
      return stepUp({ ...plan, missing }, choices);
    }
  }

  // Rule 4: no known requested value can be reached. Never a lower acr than requested.
  return { outcome: 'unmet', reason: 'no_enrolled_factor_for_target', held };
}

/** What reaching one target takes. */
interface Plan {
  target: LevelDefinition;
  missing: MissingStep[];
  /** the target is held and only its freshness (max_age) is lacking */
  reverify: boolean;
}

function planStepUp(policy: Policy, target: LevelDefinition, chain: SessionChain, enrolled: EnrolledFactor[]): Plan {
  const heldAcrs = new Set(chain.held.map((h) => h.level.acr));
  // Rule 3: every level up to the target that the session does not hold, in order
  const notHeld = policy.levels.filter((level) => level.rank <= target.rank && !heldAcrs.has(level.acr));
  // Rule 6: the target is held, only max_age is not met: the user re-verifies the target's own step
  const reverify = notHeld.length === 0;
  // A second factor must be of another kind than the primary (SPEC §1 rank 2): the session's fresh
  // primary verifications, or, when the primary step is itself missing, the factors that will provide it.
  const primaryKinds = heldAcrs.has(lowestLevel(policy).acr) ? chain.primaryKinds : enrolledPrimaryKinds(enrolled);
  const missing = (reverify ? [target] : notHeld).map((level) => ({
    acr: level.acr,
    step: level.step,
    allowedFactors: enrolledKindsForStep(level, enrolled, primaryKinds),
  }));
  return { target, missing, reverify };
}

const highestRank = (levels: LevelDefinition[]): LevelDefinition | undefined =>
  levels.reduce<LevelDefinition | undefined>((best, level) => (best === undefined || level.rank > best.rank ? level : best), undefined);
