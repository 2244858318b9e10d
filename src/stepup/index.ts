/** The pure step-up policy (SPEC §1, §2): no I/O, no wall clock. */
export { amrForEvent, isUserVerifiedWebAuthn, type FactorEvent, type FactorKind } from './factor-events.js';
export { DEFAULT_POLICY, levelOf, parsePolicy, type LevelDefinition, type Policy, type StepKind } from './levels.js';
export { parseRequirement, type AuthorizationInputs, type ClientAcrSettings, type Requirement } from './requirement.js';
export { evaluate, heldLevels, tokenClaimsFor, type Decision, type EnrolledFactor } from './evaluate.js';
