/** The pure step-up policy (SPEC §1, §2): no I/O, no wall clock (`now` is always an argument). */
export { amrForEvent, isDeviceBound, isUserVerifiedWebAuthn, type FactorEvent, type FactorKind } from './factor-events.js';
export { DEFAULT_POLICY, STEP_KINDS, levelOf, lowestLevel, parsePolicy, type LevelDefinition, type Policy, type StepKind } from './levels.js';
export {
  parseRequirement,
  type AuthorizationInputs,
  type ClientAcrSettings,
  type Requirement,
  type RequirementSource,
  type RequirementUnmetReason,
} from './requirement.js';
export { ENROLLABLE_DURING_STEP_UP, SECOND_FACTOR_KINDS, provesStep, type EnrolledFactor } from './steps.js';
export { heldLevels, tokenClaimsFor, type TokenClaims } from './held-levels.js';
export { evaluate, type Decision, type EvaluateArgs, type MissingStep, type SatisfiedReason, type StepUpReason, type UnmetReason } from './evaluate.js';
export { ENROLLMENT_FRESHNESS_SECONDS, highestReachableLevel, levelRequiredForChange, maxAgeForFreshStepUp, verifiedFreshlyAt } from './enrollment.js';
