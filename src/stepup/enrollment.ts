import type { FactorEvent } from './factor-events.js';
import { heldLevels } from './held-levels.js';
import { levelOf, type LevelDefinition, type Policy } from './levels.js';
import { ENROLLMENT_FRESHNESS_SECONDS, evaluate } from './evaluate.js';
import type { EnrolledFactor } from './steps.js';

/**
 * SPEC §4 (NIST SP 800-63B rev 4 §4.1): adding a factor needs a fresh (≤ 5 min) verification at the
 * lower of the account's highest reachable level and the new factor's level. stepup applies the same
 * rule to renaming and removing a factor (SPEC §5: "changes need step-up"), at the account's highest
 * reachable level.
 */
export { ENROLLMENT_FRESHNESS_SECONDS };

/** The highest level the account can reach with its enrolled factors (without enrolling anything). */
export function highestReachableLevel(policy: Policy, enrolled: EnrolledFactor[], now: number): LevelDefinition | undefined {
  for (const level of [...policy.levels].reverse()) {
    const decision = evaluate({ policy, requirement: { requested: [level.acr], essential: false, freshLogin: true, source: 'acr_values' }, events: [], enrolled, now });
    if (decision.outcome === 'step_up' && !decision.enrollmentAllowed) return level;
  }
  return undefined;
}

/**
 * The level whose fresh verification a change needs.
 * @param newFactorAcr the level the new factor can reach (adding), or undefined (renaming, removing)
 */
export function levelRequiredForChange(policy: Policy, enrolled: EnrolledFactor[], now: number, newFactorAcr?: string): LevelDefinition | undefined {
  const reachable = highestReachableLevel(policy, enrolled, now);
  const added = newFactorAcr ? levelOf(policy, newFactorAcr) : undefined;
  if (!reachable) return added;
  return added && added.rank < reachable.rank ? added : reachable;
}

/** Every step up to `level` verified within the last 5 minutes: a fresh verification at that level. */
export function verifiedFreshlyAt(policy: Policy, level: LevelDefinition, events: readonly FactorEvent[], now: number): boolean {
  const strict: Policy = { ...policy, levels: policy.levels.map((l) => ({ ...l, maxAge: Math.min(l.maxAge, ENROLLMENT_FRESHNESS_SECONDS) })) };
  return heldLevels(strict, events, now).includes(level.acr);
}

/**
 * The `max_age` of the step-up that makes a change possible (SPEC §4: every step up to the level verified
 * within 5 minutes). When everything the session verified is that recent, max_age=300 asks only for the
 * missing steps (a password typed a moment ago is not asked again); otherwise max_age=0 (prompt=login,
 * SPEC §2 rule 6) re-verifies them all. The one-minute margin keeps the first path from ending just past
 * the window, which would send the user round once more.
 */
export function maxAgeForFreshStepUp(events: readonly Pick<FactorEvent, 'at'>[], now: number): number {
  if (events.length === 0) return 0;
  const oldest = Math.min(...events.map((e) => e.at));
  return now - oldest <= ENROLLMENT_FRESHNESS_SECONDS - 60 ? ENROLLMENT_FRESHNESS_SECONDS : 0;
}
