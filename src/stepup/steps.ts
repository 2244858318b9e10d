import { isDeviceBound, isUserVerifiedWebAuthn } from './factor-events.js';
import { ENROLLMENT_CHOICES, FACTOR_KINDS, SECOND_FACTOR_KINDS, type EnrollmentChoice, type FactorKind } from './factor-kinds.js';
import type { LevelDefinition, StepKind } from './levels.js';

/**
 * SPEC §1 table, third column: which factor lifts a session by which step. One predicate answers it
 * for both a recorded verification (did this event prove the step?) and an enrolled factor (could
 * verifying it prove the step?), so the page a user is sent to and the level they then hold cannot
 * disagree.
 */

/** A factor the user has registered (password, TOTP, WebAuthn credential, recovery codes). */
export interface EnrolledFactor {
  factor: FactorKind;
  credentialId: string;
  /** WebAuthn BE flag as registered: false = device-bound */
  backupEligible?: boolean;
  /** WebAuthn: attestation verified at registration */
  attested?: boolean;
  /** WebAuthn: a passkey able to do user verification */
  userVerifying?: boolean;
  /** display only (issue #19, the decision trace): the name the user gave it; never read by the policy */
  label?: string;
  /** display only (issue #19): the WebAuthn authenticator's AAGUID, named as its model where known */
  aaguid?: string;
}

/** A verification, recorded (a FactorEvent) or possible (an enrolled factor): the fields the step rules look at. */
interface StepCandidate {
  factor: FactorKind;
  userVerified?: boolean;
  backupEligible?: boolean;
  attested?: boolean;
}

export { SECOND_FACTOR_KINDS };

/** For steps that do not depend on the primary factor's kind. */
export const NO_KINDS: ReadonlySet<FactorKind> = new Set();
const PRIMARY_STEP: { step: StepKind } = { step: 'primary' };

/**
 * Does `candidate` verify `step`?
 * @param primaryKinds the factor kinds that verified (or, for enrolled factors, can verify) the
 *   primary step; a second factor must be of another kind (SPEC §1 rank 2).
 */
export function provesStep(candidate: StepCandidate, level: Pick<LevelDefinition, 'step' | 'requireAttestation'>, primaryKinds: ReadonlySet<FactorKind>): boolean {
  switch (level.step) {
    case 'primary':
      // SPEC §1 rank 1: a password, or a passkey (WebAuthn with user verification)
      return candidate.factor === 'password' || isUserVerifiedWebAuthn(candidate);
    case 'second_factor':
      // SPEC §1 rank 2: a user-verified passkey counts as steps 1 and 2 by itself; otherwise a
      // second-factor kind other than the primary factor's (a recovery code fits here, and only here)
      return isUserVerifiedWebAuthn(candidate) || ((SECOND_FACTOR_KINDS as readonly FactorKind[]).includes(candidate.factor) && [...primaryKinds].some((kind) => kind !== candidate.factor));
    case 'phishing_resistant':
      // SPEC §1 rank 3: a WebAuthn assertion
      return candidate.factor === 'webauthn';
    case 'device_bound':
      // SPEC §1 rank 4: from a device-bound credential (BE false); SPEC §3: the policy may require a verified attestation
      return isDeviceBound(candidate) && (level.requireAttestation !== true || candidate.attested === true);
  }
}

/** The enrolled factor as the verification it would produce (a UV-capable passkey is asked for UV). */
const asCandidate = (f: EnrolledFactor): StepCandidate => ({ factor: f.factor, userVerified: f.userVerifying, backupEligible: f.backupEligible, attested: f.attested });

/** The kinds of enrolled factors that can prove the step, in a fixed order (SPEC §2 rule 3: "among the enrolled factors that fit"). */
export function enrolledKindsForStep(level: LevelDefinition, enrolled: readonly EnrolledFactor[], primaryKinds: ReadonlySet<FactorKind>): FactorKind[] {
  const fitting = new Set(enrolled.filter((f) => provesStep(asCandidate(f), level, primaryKinds)).map((f) => f.factor));
  return FACTOR_KINDS.filter((kind) => fitting.has(kind));
}

/** Kinds of enrolled factors able to verify the primary step (used when the primary step itself is still missing). */
export function enrolledPrimaryKinds(enrolled: readonly EnrolledFactor[]): Set<FactorKind> {
  return new Set(enrolled.filter((f) => provesStep(asCandidate(f), PRIMARY_STEP, NO_KINDS)).map((f) => f.factor));
}

/** A user with at least one factor that can serve as a second factor (SPEC §4: selfEnrollment is for users with none). */
export const hasSecondFactor = (enrolled: readonly EnrolledFactor[]): boolean => enrolled.some((f) => (SECOND_FACTOR_KINDS as readonly FactorKind[]).includes(f.factor));

/**
 * What each enrollment choice will be able to prove, assumed at its weakest so nothing is promised that
 * the credential may not deliver: a passkey may be synced (BE=1), a security key is device-bound but
 * user verification is not assumed, and no attestation is verified at registration (SPEC §3).
 */
const CHOICE_AS_CANDIDATE: { [C in EnrollmentChoice]: StepCandidate } = {
  passkey: { factor: 'webauthn', userVerified: true, backupEligible: true, attested: false },
  security_key: { factor: 'webauthn', userVerified: false, backupEligible: false, attested: false },
  totp: { factor: 'totp' },
};

/**
 * SPEC §4 selfEnrollment: the choices a person may enroll to prove every one of `steps` (the missing
 * steps above the primary one), in the order they are offered: phishing-resistant first (SPEC §1: they
 * reach the most levels), then the authenticator app. A primary factor kind is never a second factor.
 */
export function enrollmentChoicesFor(steps: readonly Pick<LevelDefinition, 'step' | 'requireAttestation'>[], primaryKinds: ReadonlySet<FactorKind>): EnrollmentChoice[] {
  return ENROLLMENT_CHOICES.filter((choice) => steps.every((level) => provesStep(CHOICE_AS_CANDIDATE[choice], level, primaryKinds)));
}
