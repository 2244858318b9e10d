import { isUserVerifiedWebAuthn, type FactorEvent, type FactorKind } from './factor-events.js';
import { levelOf, type LevelDefinition, type Policy, type StepKind } from './levels.js';
import type { Requirement } from './requirement.js';

/**
 * SPEC §1 and §2, as pure functions of (policy, requirement, factor events, enrolled factors, now).
 * Nothing stores "the session's acr": levels are derived from the events at each request, so a
 * session steps down by itself when a level's window passes.
 */

export interface EnrolledFactor {
  factor: FactorKind;
  credentialId: string;
  backupEligible?: boolean;
  attested?: boolean;
  /** WebAuthn: a passkey that performs user verification */
  userVerifying?: boolean;
}

export type Decision =
  | { outcome: 'satisfied'; acr: string | undefined; amr: string[]; authTime: number; held: string[]; reason: string }
  | {
      outcome: 'step_up';
      target: string;
      missing: Array<{ acr: string; step: StepKind; allowedFactors: FactorKind[] }>;
      held: string[];
      reason: string;
      enrollmentAllowed: boolean;
    }
  | { outcome: 'unmet'; reason: string; held: string[] };

const SECOND_FACTOR_KINDS: FactorKind[] = ['totp', 'recovery_code', 'webauthn'];

/** Does this event verify this step? (SPEC §1 table) */
function eventProvesStep(e: FactorEvent, level: LevelDefinition, primary: FactorEvent | undefined): boolean {
  switch (level.step) {
    case 'primary':
      return e.factor === 'password' || isUserVerifiedWebAuthn(e);
    case 'second_factor':
      // another kind than the primary factor, or a user-verified passkey (steps 1 and 2 at once)
      return isUserVerifiedWebAuthn(e) || (SECOND_FACTOR_KINDS.includes(e.factor) && primary !== undefined && primary.factor !== e.factor);
    case 'phishing_resistant':
      return e.factor === 'webauthn'; // a recovery code satisfies the aal2 step only
    case 'device_bound':
      return e.factor === 'webauthn' && e.backupEligible === false && (!level.requireAttestation || e.attested === true);
  }
}

interface HeldLevel {
  level: LevelDefinition;
  /** the most recent event that proved this level's step */
  proof: FactorEvent;
}

/** Walks the chain from the lowest level: a level is held when every level below is held and its step is fresh. */
function walkChain(policy: Policy, events: FactorEvent[], now: number): HeldLevel[] {
  const newestFirst = [...events].filter((e) => e.at <= now).sort((a, b) => b.at - a.at);
  const held: HeldLevel[] = [];
  for (const level of policy.levels) {
    const primary = held[0]?.proof;
    const proof = newestFirst.find((e) => now - e.at <= level.maxAge && eventProvesStep(e, level, primary));
    if (!proof) break;
    held.push({ level, proof });
  }
  return held;
}

export function heldLevels(policy: Policy, events: FactorEvent[], now: number): string[] {
  return walkChain(policy, events, now).map((h) => h.level.acr);
}

/** SPEC §2 rule 8: amr of the events supporting the acr, plus mfa for two kinds or a user-verified passkey; auth_time = most recent verification. */
export function tokenClaimsFor(policy: Policy, acr: string | undefined, events: FactorEvent[], now: number): { acr?: string; amr: string[]; authTime: number } {
  const chain = walkChain(policy, events, now);
  const upTo = acr ? chain.findIndex((h) => h.level.acr === acr) : chain.length - 1;
  const supporting = chain.slice(0, upTo + 1).map((h) => h.proof);
  const amr = new Set<string>();
  for (const e of [...supporting].sort((a, b) => a.at - b.at)) for (const v of e.amr) amr.add(v);
  const kinds = new Set(supporting.map((e) => e.factor));
  if (kinds.size >= 2 || supporting.some(isUserVerifiedWebAuthn)) amr.add('mfa');
  const authTime = events.reduce((latest, e) => (e.at <= now && e.at > latest ? e.at : latest), 0);
  return { ...(acr ? { acr } : {}), amr: [...amr], authTime };
}

/** Which enrolled factor kinds can prove this step? */
function factorsForStep(level: LevelDefinition, enrolled: EnrolledFactor[]): FactorKind[] {
  const fits = enrolled.filter((f) => {
    switch (level.step) {
      case 'primary':
        return f.factor === 'password' || (f.factor === 'webauthn' && f.userVerifying === true);
      case 'second_factor':
        return SECOND_FACTOR_KINDS.includes(f.factor);
      case 'phishing_resistant':
        return f.factor === 'webauthn';
      case 'device_bound':
        return f.factor === 'webauthn' && f.backupEligible === false && (!level.requireAttestation || f.attested === true);
    }
  });
  return [...new Set(fits.map((f) => f.factor))];
}

interface Plan {
  target: LevelDefinition;
  missing: Array<{ acr: string; step: StepKind; allowedFactors: FactorKind[] }>;
}

/** The steps to ask for to reach `target`: every level up to it that is not held, or (re-verification) the target's own step. */
function planFor(policy: Policy, target: LevelDefinition, held: string[], enrolled: EnrolledFactor[], reverify: boolean): Plan {
  const levels = policy.levels.filter((l) => l.rank <= target.rank && !held.includes(l.acr));
  const steps = levels.length ? levels : reverify ? [target] : [];
  return { target, missing: steps.map((l) => ({ acr: l.acr, step: l.step, allowedFactors: factorsForStep(l, enrolled) })) };
}

const reachable = (plan: Plan) => plan.missing.every((m) => m.allowedFactors.length > 0);

export function evaluate(args: { policy: Policy; requirement: Requirement; events: FactorEvent[]; enrolled: EnrolledFactor[]; now: number }): Decision {
  const { policy, requirement, enrolled, now } = args;
  if (requirement.unmetReason) return { outcome: 'unmet', reason: requirement.unmetReason, held: [] };

  // Rule 6: prompt=login / max_age=0 — a full fresh authentication, nothing already proven counts
  const events = requirement.freshLogin ? [] : args.events;
  const held = heldLevels(policy, events, now);
  const lastVerification = events.reduce((latest, e) => Math.max(latest, e.at), 0);
  const maxAgeExceeded = requirement.maxAge !== undefined && (events.length === 0 || now - lastVerification > requirement.maxAge);
  const stepUpReason = requirement.freshLogin ? 'fresh_login_requested' : events.length === 0 ? 'no_session' : maxAgeExceeded ? 'max_age_exceeded' : 'level_not_held';
  const satisfied = (acr: string | undefined, reason: string): Decision => ({ outcome: 'satisfied', ...tokenClaimsFor(policy, acr, events, now), acr, held, reason });
  const stepUp = (plan: Plan, enrollmentAllowed = false): Decision => ({
    outcome: 'step_up',
    target: plan.target.acr,
    missing: plan.missing,
    held,
    reason: stepUpReason,
    enrollmentAllowed,
  });

  // Rule 5: no acr asked — the highest level held; with nothing held (or max_age passed), a primary factor
  if (requirement.requested.length === 0) {
    const lowest = policy.levels[0]!;
    if (held.length > 0 && !maxAgeExceeded) return satisfied(held.at(-1), 'no_acr_requested');
    const plan = planFor(policy, lowest, held, enrolled, true);
    return reachable(plan) ? stepUp(plan) : { outcome: 'unmet', reason: 'no_enrolled_factor_for_target', held };
  }

  // Rule 2: a requested value already held (and max_age met) — no prompt; the highest requested value held
  const requestedLevels = requirement.requested.map((acr) => levelOf(policy, acr)!).filter(Boolean);
  const heldRequested = requestedLevels.filter((l) => held.includes(l.acr));
  if (heldRequested.length > 0 && !maxAgeExceeded) {
    const highest = heldRequested.reduce((a, b) => (b.rank > a.rank ? b : a));
    return satisfied(highest.acr, 'already_held');
  }

  // Rule 3: the first requested value the user can reach; ask only for the missing steps
  const plans = requestedLevels.map((target) => planFor(policy, target, held, enrolled, maxAgeExceeded));
  const plan = plans.find(reachable);
  if (plan) return stepUp(plan);

  // Rule 4 exception (SPEC §4): a user with no second factor at all may enroll one during the step-up
  const hasSecondFactor = enrolled.some((f) => SECOND_FACTOR_KINDS.includes(f.factor));
  if (policy.selfEnrollment && !hasSecondFactor) {
    const enrollable = plans.find((p) => p.missing.every((m) => (m.step === 'second_factor' ? true : m.allowedFactors.length > 0)));
    if (enrollable) {
      return stepUp(
        { ...enrollable, missing: enrollable.missing.map((m) => (m.step === 'second_factor' ? { ...m, allowedFactors: ['totp'] } : m)) },
        true,
      );
    }
  }
  return { outcome: 'unmet', reason: 'no_enrolled_factor_for_target', held };
}
