import type { Decision } from './evaluate.js';
import type { EnrollmentChoice, FactorKind } from './factor-kinds.js';
import type { StepKind } from './levels.js';

/**
 * What a person is offered for the next step of a step-up (SPEC §2 rule 3: "choosing among the enrolled
 * factors that fit"; SPEC §4: a first second factor may be enrolled). Pure, so the order is a table test
 * and the pages only render it.
 */
export type Offer =
  | {
      kind: 'verify';
      /** the step being proven now (the first missing one) */
      step: StepKind;
      acr: string;
      /** the enrolled kinds that fit, in the order the page offers them; the first is shown first */
      factors: FactorKind[];
    }
  | { kind: 'enroll'; acr: string; choices: EnrollmentChoice[] };

/** Phishing-resistant first (it reaches the most levels), a recovery code last (it is the fallback). */
const VERIFY_ORDER: { [K in FactorKind]: number } = { webauthn: 0, password: 1, totp: 2, recovery_code: 3 };

export function offerFor(decision: Extract<Decision, { outcome: 'step_up' }>): Offer | undefined {
  const step = decision.missing[0];
  if (!step) return undefined;
  if (step.step !== 'primary' && decision.enrollmentAllowed) return { kind: 'enroll', acr: decision.target, choices: decision.enroll };
  // A later step only WebAuthn can prove (phr, phrh) makes WebAuthn the only offer for the earlier ones
  // too: one assertion proves them all, and a code first would only lead to the same key prompt.
  const onlyWebAuthnLater = step.step !== 'primary' && decision.missing.slice(1).some((m) => m.allowedFactors.length === 1 && m.allowedFactors[0] === 'webauthn');
  const factors = step.allowedFactors.filter((f) => !onlyWebAuthnLater || f === 'webauthn').sort((a, b) => VERIFY_ORDER[a] - VERIFY_ORDER[b]);
  return { kind: 'verify', step: step.step, acr: step.acr, factors };
}
