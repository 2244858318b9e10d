import { describe, expect, it } from '@jest/globals';
import type { Decision, FiredSignal } from '../stepup/index.js';
import { signalWords, whyAsked, whyRefused } from './wording.js';

type StepUp = Extract<Decision, { outcome: 'step_up' }>;
const secondFactor: StepUp = {
  outcome: 'step_up',
  target: 'aal2',
  missing: [{ acr: 'aal2', step: 'second_factor', allowedFactors: ['totp'] }],
  held: ['aal1'],
  reason: 'level_not_held',
  enrollmentAllowed: false,
  enroll: [],
};
const applied = (reason: FiredSignal['reason']): FiredSignal => ({ reason, demanded: 'aal2', outcome: 'applied' });
const SECOND = 'a second step: a code from your authenticator app, a passkey or a security key';

describe('issue #16: every step page says why in one sentence, from stable reason codes', () => {
  it.each<[string, FiredSignal[], string]>([
    ['no signal: the app asks', [], `Payroll asks for ${SECOND}.`],
    ['a new device', [applied('new_device')], `This is a new device for your account, so signing in to Payroll needs ${SECOND}.`],
    ['a new network', [applied('new_network')], `You are signing in from a network new to your account, so signing in to Payroll needs ${SECOND}.`],
    ['both', [applied('new_device'), applied('new_network')], `This is a new device and a new network for your account, so signing in to Payroll needs ${SECOND}.`],
    ['failures', [applied('recent_failures')], `There were recent failed attempts to sign in to your account, so signing in to Payroll needs ${SECOND}.`],
    [
      'device and failures',
      [applied('new_device'), applied('recent_failures')],
      `This is a new device for your account, and there were recent failed attempts to sign in to your account, so signing in to Payroll needs ${SECOND}.`,
    ],
    ['a moot signal (the app asked as much) is not the reason', [{ reason: 'new_device', demanded: 'aal2', outcome: 'moot' }], `Payroll asks for ${SECOND}.`],
  ])('%s', (_label, signals, sentence) => {
    expect(whyAsked(secondFactor, 'Payroll', { signals })).toBe(sentence);
  });

  it('max_age: "more than N minutes since the last check"', () => {
    expect(whyAsked({ ...secondFactor, reason: 'max_age_exceeded' }, 'Payroll', { maxAge: 600 })).toBe('Payroll asks you to confirm it is you again: it has been more than 10 minutes since your last check.');
    expect(whyAsked({ ...secondFactor, reason: 'max_age_exceeded' }, 'Payroll')).toBe('Payroll asks you to confirm it is you again: your last check was too long ago.');
  });

  it('the refusal (onUnreachable "deny") names what fired', () => {
    expect(whyRefused([applied('recent_failures')])).toMatch(/^There were recent failed attempts to sign in to your account, and your account has no second step/);
    expect(signalWords([])).toBeUndefined();
  });
});
