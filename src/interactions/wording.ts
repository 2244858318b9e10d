import type { Decision, EnrollmentChoice, FactorKind, StepKind } from '../stepup/index.js';

/**
 * Every sentence a step page uses to say why it is shown and what comes next, in one place, keyed by
 * the decision's stable reason codes (the same codes as the audit trail's stepup.decision).
 */
type StepUp = Extract<Decision, { outcome: 'step_up' }>;

const STEP_WORDS: { [S in StepKind]: string } = {
  primary: 'your password or a passkey',
  second_factor: 'a second step: a code from your authenticator app, a passkey or a security key',
  phishing_resistant: 'a passkey or a security key',
  device_bound: 'a security key that never leaves its device',
};

/** Why this page is shown: one plain sentence naming the app. */
export function whyAsked(decision: StepUp, appName: string | undefined): string {
  const app = appName ? appName : 'The app';
  const target = decision.missing.at(-1)?.step ?? 'primary';
  switch (decision.reason) {
    case 'fresh_login_requested':
      return `${app} asks you to sign in again to confirm it is you.`;
    case 'max_age_exceeded':
      return `${app} asks you to confirm it is you again: your last check was too long ago.`;
    case 'no_session':
      return decision.missing.length > 1 ? `${app} asks for ${STEP_WORDS[target]}, after your password.` : `Sign in to continue to ${app}.`;
    case 'level_not_held':
      return `${app} asks for ${STEP_WORDS[target]}.`;
  }
}

/** What follows this step, when something does. */
export function whatNext(decision: StepUp): string | undefined {
  const later = decision.missing.slice(1);
  if (later.length === 0) return decision.enrollmentAllowed ? 'Then you set up a second step for your account.' : undefined;
  if (decision.enrollmentAllowed) return 'Next, you set up a second step for your account.';
  return `Next: ${STEP_WORDS[later.at(-1)!.step]}.`;
}

export const SWITCH_LINKS: { [K in FactorKind]: string } = {
  password: 'Use your password instead',
  webauthn: 'Use your passkey or security key instead',
  totp: 'Use your authenticator app instead',
  recovery_code: 'Use a recovery code instead',
};

export const ENROLL_TITLES: { [C in EnrollmentChoice]: string } = {
  passkey: 'Create a passkey',
  security_key: 'Register a security key',
  totp: 'Set up an authenticator app',
};

export const ENROLL_FRESH_PASSWORD = 'Confirm your password before adding a second step to your account.';
