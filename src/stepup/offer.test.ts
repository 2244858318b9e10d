import { describe, expect, it } from '@jest/globals';
import { offerFor, type Offer } from './offer.js';
import type { Decision } from './evaluate.js';

type StepUp = Extract<Decision, { outcome: 'step_up' }>;
const stepUp = (missing: StepUp['missing'], enroll: StepUp['enroll'] = []): StepUp => ({
  outcome: 'step_up',
  target: missing.at(-1)?.acr ?? 'aal1',
  missing,
  held: [],
  reason: 'level_not_held',
  enrollmentAllowed: enroll.length > 0,
  enroll,
});

describe('offerFor: which factors a step-up page offers, and in which order', () => {
  it.each<[string, StepUp, Offer | undefined]>([
    [
      'a primary step: a passkey before the password',
      stepUp([{ acr: 'aal1', step: 'primary', allowedFactors: ['password', 'webauthn'] }]),
      { kind: 'verify', step: 'primary', acr: 'aal1', factors: ['webauthn', 'password'] },
    ],
    [
      'aal2 with every kind enrolled: WebAuthn, then the authenticator app, then a recovery code',
      stepUp([{ acr: 'aal2', step: 'second_factor', allowedFactors: ['totp', 'webauthn', 'recovery_code'] }]),
      { kind: 'verify', step: 'second_factor', acr: 'aal2', factors: ['webauthn', 'totp', 'recovery_code'] },
    ],
    [
      'aal2 then phr: only WebAuthn, since one assertion proves both',
      stepUp([
        { acr: 'aal2', step: 'second_factor', allowedFactors: ['totp', 'webauthn'] },
        { acr: 'phr', step: 'phishing_resistant', allowedFactors: ['webauthn'] },
      ]),
      { kind: 'verify', step: 'second_factor', acr: 'aal2', factors: ['webauthn'] },
    ],
    [
      'an enrollment for aal2: the choices as decided',
      stepUp([{ acr: 'aal2', step: 'second_factor', allowedFactors: [] }], ['passkey', 'security_key', 'totp']),
      { kind: 'enroll', acr: 'aal2', choices: ['passkey', 'security_key', 'totp'] },
    ],
    [
      'an enrollment whose password is too old: the password first',
      stepUp(
        [
          { acr: 'aal1', step: 'primary', allowedFactors: ['password'] },
          { acr: 'aal2', step: 'second_factor', allowedFactors: [] },
        ],
        ['totp'],
      ),
      { kind: 'verify', step: 'primary', acr: 'aal1', factors: ['password'] },
    ],
    ['nothing missing: no offer', stepUp([]), undefined],
  ])('%s', (_label, decision, expected) => {
    expect(offerFor(decision)).toEqual(expected);
  });
});
