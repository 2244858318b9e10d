import type { FactorKind } from '../stepup/factor-kinds.js';
import type { FactorRef, Notification } from './notification.js';

/**
 * What the person reads for each notification kind: one function, exhaustive over the union (a new
 * kind without its wording does not compile). The mail templates (views/email/) lay it out; the log
 * line without SMTP_URL carries the same subject. Values are plain text: the HTML template escapes them.
 */
export interface Summary {
  subject: string;
  /** one sentence: what happened */
  what: string;
  /** further facts, as label/value pairs */
  facts: Array<[string, string]>;
  /** what to do if it was not them */
  advice: string;
  /** the change came from the person's own request: the mail shows its browser and network */
  fromTheirRequest: boolean;
}

const IF_NOT_YOU_SIGN_IN = 'If this was not you, sign in and change your password at once, then check the sign-in methods on your account page; if you cannot sign in, contact your administrator.';
const IF_NOT_YOU_ADMIN = 'If you did not expect this, contact your administrator.';

const factorName = (f: FactorRef) => (f.type === 'totp' ? 'authenticator app' : 'passkey or security key');
const FACTOR_WORDS: Record<FactorKind, string> = {
  password: 'your password',
  totp: 'an authenticator app code',
  webauthn: 'a passkey or security key',
  recovery_code: 'a recovery code',
};
const minutes = (s: number) => Math.max(1, Math.ceil(s / 60));

export function summarize(n: Notification): Summary {
  switch (n.kind) {
    case 'factor_added':
      return {
        subject: 'A sign-in method was added to your account',
        what: `The ${factorName(n.factor)} "${n.factor.label}" was added to your account.`,
        facts: [],
        advice: `${IF_NOT_YOU_SIGN_IN} Remove the ${factorName(n.factor)} you do not know.`,
        fromTheirRequest: true,
      };
    case 'factor_removed':
      return n.by === 'admin'
        ? {
            subject: 'An administrator removed a sign-in method from your account',
            what: `An administrator removed the ${factorName(n.factor)} "${n.factor.label}" from your account. Your sessions were signed out.`,
            facts: [],
            advice: IF_NOT_YOU_ADMIN,
            fromTheirRequest: false,
          }
        : {
            subject: 'A sign-in method was removed from your account',
            what: `The ${factorName(n.factor)} "${n.factor.label}" was removed from your account. Your other sessions were signed out.`,
            facts: [],
            advice: IF_NOT_YOU_SIGN_IN,
            fromTheirRequest: true,
          };
    case 'factors_reset':
      return {
        subject: 'An administrator removed your second factors',
        what: 'An administrator removed every second factor and recovery code from your account. You will add a new one at your next sign-in.',
        facts: [
          ['Sign-in methods removed', String(n.factors)],
          ['Recovery codes removed', String(n.recoveryCodes)],
        ],
        advice: IF_NOT_YOU_ADMIN,
        fromTheirRequest: false,
      };
    case 'admin_added_totp':
      return {
        subject: 'An administrator added an authenticator app to your account',
        what: `An administrator added the authenticator app "${n.factor.label}" to your account.`,
        facts: [],
        advice: IF_NOT_YOU_ADMIN,
        fromTheirRequest: false,
      };
    case 'recovery_code_used':
      return {
        subject: 'A recovery code was used to sign in',
        what: `A recovery code was used to sign in to your account. ${n.remaining} unused ${n.remaining === 1 ? 'code remains' : 'codes remain'}.`,
        facts: [['Recovery codes left', String(n.remaining)]],
        advice: `${IF_NOT_YOU_SIGN_IN}${n.remaining <= 3 ? ' Make new recovery codes on your account page before you run out.' : ''}`,
        fromTheirRequest: true,
      };
    case 'recovery_codes_regenerated':
      return {
        subject: 'New recovery codes were made for your account',
        what: `${n.count} new recovery codes were made for your account; the old ones no longer work.`,
        facts: [],
        advice: IF_NOT_YOU_SIGN_IN,
        fromTheirRequest: true,
      };
    case 'lockout':
      return {
        subject: 'Sign-in to your account was paused after failed attempts',
        what: `After several wrong attempts at ${FACTOR_WORDS[n.factor]}, signing in with it is paused for ${minutes(n.lockedForSeconds)} minute(s).`,
        facts: [],
        advice: 'If these attempts were not yours, someone may be guessing: change your password once you can sign in, and make sure your account has a second factor. Nothing else is needed; the pause ends by itself.',
        fromTheirRequest: true,
      };
    case 'account_disabled':
      return {
        subject: 'Your account was disabled',
        what: 'An administrator disabled your account: you cannot sign in, and every session was signed out.',
        facts: [],
        advice: IF_NOT_YOU_ADMIN,
        fromTheirRequest: false,
      };
    case 'password_changed':
      return {
        subject: 'Your password was changed',
        what: n.via === 'required_at_sign_in' ? 'Your password was changed while signing in, as your administrator asked.' : 'Your password was changed on your account page. Your other sessions were signed out.',
        facts: [],
        advice: 'If this was not you, use "Forgot your password?" on the sign-in page or contact your administrator at once.',
        fromTheirRequest: true,
      };
    case 'password_reset':
      return {
        subject: 'Your password was reset',
        what: 'Your password was changed with a password reset link. Every session was signed out; your second factors are unchanged.',
        facts: [],
        advice: 'If this was not you, someone can read your email: secure your mailbox, then reset your password again or contact your administrator.',
        fromTheirRequest: true,
      };
    case 'password_set_by_admin':
      return {
        subject: 'An administrator set a new password for your account',
        what: 'An administrator set a new password for your account. Every session was signed out; your second factors are unchanged.',
        facts: [],
        advice: IF_NOT_YOU_ADMIN,
        fromTheirRequest: false,
      };
    case 'temporary_password_set':
      return {
        subject: 'An administrator set a temporary password',
        what: 'An administrator set a temporary password for your account; you will choose a new one at your next sign-in. Your sessions were signed out.',
        facts: [],
        advice: IF_NOT_YOU_ADMIN,
        fromTheirRequest: false,
      };
    case 'new_device_sign_in': {
      // issue #16: when, from where, which browser (the mail shows the request's), and what to do if it was not them
      const from = n.signals.includes('new_device') ? (n.signals.includes('new_network') ? 'a new device and network' : 'a new device') : n.signals.includes('new_network') ? 'a new network' : 'a device';
      const failures = n.signals.includes('recent_failures') ? ', after failed sign-in attempts' : '';
      return n.outcome === 'signed_in'
        ? {
            subject: `New sign-in to your account from ${from}`,
            what: `Your account was signed in to from ${from}${failures}.`,
            facts: [['Network', n.network]],
            advice: `${IF_NOT_YOU_SIGN_IN} On your account page, forget the devices you do not know and sign out everywhere.`,
            fromTheirRequest: true,
          }
        : {
            subject: `A sign-in to your account from ${from} was refused`,
            what: `Someone signed in with your password from ${from}${failures}, and it was refused because your account has no second factor.`,
            facts: [['Network', n.network]],
            advice: 'If this was not you, someone knows your password: change it at once and add a second factor (an authenticator app, a passkey or a security key) on your account page.',
            fromTheirRequest: true,
          };
    }
    default:
      return unreachable(n);
  }
}

function unreachable(n: never): never {
  throw new Error(`no wording for notification ${(n as { kind: string }).kind}`);
}
