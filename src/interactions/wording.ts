import type { Decision, EnrollmentChoice, FactorKind, FiredSignal, StepKind } from '../stepup/index.js';

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

/**
 * Issue #16: what fired, as the start of a sentence ("This is a new device for your account"), from the
 * stable reason codes new_device, new_network, recent_failures.
 */
export function signalWords(signals: readonly Pick<FiredSignal, 'reason'>[]): string | undefined {
  const has = (reason: string) => signals.some((s) => s.reason === reason);
  const parts: string[] = [];
  if (has('new_device') && has('new_network')) parts.push('this is a new device and a new network for your account');
  else if (has('new_device')) parts.push('this is a new device for your account');
  else if (has('new_network')) parts.push('you are signing in from a network new to your account');
  if (has('recent_failures')) parts.push('there were recent failed attempts to sign in to your account');
  if (parts.length === 0) return undefined;
  const sentence = parts.join(', and ');
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

/** Issue #16, onUnreachable "deny": why the sign-in was refused. */
export function whyRefused(signals: readonly Pick<FiredSignal, 'reason'>[]): string {
  return `${signalWords(signals) ?? 'This sign-in needs more checks'}, and your account has no second step to confirm it is you, so this sign-in was refused. Sign in from a device you used before, or ask your administrator for help.`;
}

const minutes = (seconds: number) => (seconds < 120 ? `${seconds} seconds` : seconds < 7200 ? `${Math.floor(seconds / 60)} minutes` : `${Math.floor(seconds / 3600)} hours`);

/**
 * Why this page is shown: one plain sentence naming the app, or the risk signal that demanded the step
 * (issue #16: a signal applied to this request is why a step above the app's is asked).
 */
export function whyAsked(decision: StepUp, appName: string | undefined, context: { signals?: readonly FiredSignal[]; maxAge?: number } = {}): string {
  const app = appName ? appName : 'The app';
  const target = decision.missing.at(-1)?.step ?? 'primary';
  const applied = (context.signals ?? []).filter((s) => s.outcome === 'applied');
  const signals = signalWords(applied);
  if (signals && (decision.reason === 'level_not_held' || decision.reason === 'no_session') && target !== 'primary') {
    return `${signals}, so signing in to ${appName ?? 'the app'} needs ${STEP_WORDS[target]}.`;
  }
  switch (decision.reason) {
    case 'fresh_login_requested':
      return `${app} asks you to sign in again to confirm it is you.`;
    case 'max_age_exceeded':
      return context.maxAge
        ? `${app} asks you to confirm it is you again: it has been more than ${minutes(context.maxAge)} since your last check.`
        : `${app} asks you to confirm it is you again: your last check was too long ago.`;
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
