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
export { SECOND_FACTOR_KINDS, enrollmentChoicesFor, provesStep, type EnrolledFactor } from './steps.js';
export { ENROLLMENT_CHOICES, FACTOR_KINDS, KIND_OF_CHOICE, type EnrollmentChoice } from './factor-kinds.js';
export { heldLevels, tokenClaimsFor, type TokenClaims } from './held-levels.js';
export { DECISION_REASONS, ENROLLMENT_FRESHNESS_SECONDS, evaluate, type Decision, type DecisionReason, type EvaluateArgs, type MissingStep, type SatisfiedReason, type StepUpReason, type UnmetReason } from './evaluate.js';
export { highestReachableLevel, levelRequiredForChange, maxAgeForFreshStepUp, verifiedFreshlyAt } from './enrollment.js';
export { decide, type Demand, type DecisionInputs, type DecisionResult } from './decide.js';
export { offerFor, type Offer } from './offer.js';
export { explain, parseSessionSpec, REASON_WORDS, type Trace, type HeldLevelTrace, type StepTrace } from './explain.js';
export { assessRisk, riskDemands, riskEnabled, DEFAULT_RISK_POLICY, RISK_REASONS, type FiredSignal, type OnUnreachable, type RiskAssessment, type RiskFacts, type RiskPolicy, type RiskReason } from './risk.js';
