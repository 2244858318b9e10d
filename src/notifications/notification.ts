import type { Context } from 'koa';
import { describeUserAgent } from '../admin/user-agent.js';
import type { FactorKind } from '../stepup/factor-kinds.js';
import type { RiskReason } from '../stepup/risk-policy.js';

/**
 * What a person is told about their own account (SPEC §4, issue #17 item 2), one kind per event. Every
 * notification says what happened, when, and from where (the request that made the change), so the
 * mail can say "from which browser and network, and what to do if it was not you". None carries a
 * secret: no code, password, token or link (the forgot-password link is a Notice, notices.ts).
 *
 * Adding a kind: add it to the union below; `summarize` (wording.ts) then does not compile until it
 * says what the person reads, and the mail templates need no change.
 */
export interface NotificationContext {
  /** when the change happened (ISO 8601) */
  at: string;
  ip?: string;
  userAgent?: string;
  /** the user agent in words ("Firefox 120 on Linux"), parsed once when the change happens */
  device?: string;
}

/** Who made the change: the person themselves, or an administrator (the mail then does not show the admin's network). */
export type ChangedBy = 'self' | 'admin';

interface Base<K extends string> {
  kind: K;
  /** whose account: the recipient is this account's email address at delivery time */
  accountId: string;
  context: NotificationContext;
}

export interface FactorRef {
  id: string;
  type: 'totp' | 'webauthn';
  /** the name the person gave it (or its model): shown escaped */
  label: string;
}

export type Notification =
  /** SPEC §4: every enrollment (an authenticator app, a passkey, a security key) */
  | (Base<'factor_added'> & { factor: FactorRef })
  /** SPEC §4: every removal, by the person on /account or by an administrator */
  | (Base<'factor_removed'> & { factor: FactorRef; by: ChangedBy })
  /** issue #5: an administrator removed every second factor and recovery code (a lost phone) */
  | (Base<'factors_reset'> & { factors: number; recoveryCodes: number })
  /** issue #5: an administrator imported an authenticator app (TOTP secret) for the account */
  | (Base<'admin_added_totp'> & { factor: FactorRef })
  /** SPEC §3: "using one is audited and the user is told how many remain" */
  | (Base<'recovery_code_used'> & { remaining: number })
  /** issue #15: a new set replaced every old code */
  | (Base<'recovery_codes_regenerated'> & { count: number })
  /** SPEC §3: "lockouts are temporary and audited"; issue #17 lists the lockout among the notices */
  | (Base<'lockout'> & { factor: FactorKind; lockedForSeconds: number })
  /** issue #17: the account was disabled by an administrator (every session ended) */
  | Base<'account_disabled'>
  /** issue #15: the person changed their password (on /account, or when asked to at sign-in) */
  | (Base<'password_changed'> & { via: 'account_page' | 'required_at_sign_in' })
  /** issue #15: the password was replaced through a forgot-password link */
  | Base<'password_reset'>
  /** issue #15: an administrator set a temporary password (to be changed at the next sign-in) */
  | Base<'temporary_password_set'>
  /** issue #17: an operator set a new password with `stepup user set-password` (not a temporary one) */
  | Base<'password_set_by_admin'>
  /**
   * issue #16: a sign-in from a device or network new to the account (or one refused under
   * onUnreachable "deny"); `signals` are the stable reason codes that fired, `network` the client's
   * network prefix (the context has the browser and the address)
   */
  | (Base<'new_device_sign_in'> & { outcome: 'signed_in' | 'refused'; signals: RiskReason[]; network: string });

export type NotificationKind = Notification['kind'];

export type NotificationOf<K extends NotificationKind> = Extract<Notification, { kind: K }>;

type WithoutContext<T> = T extends unknown ? Omit<T, 'context'> : never;
/** What a call site says; the notifier adds the context (its clock, the request). */
export type NotificationInput = WithoutContext<Notification>;

/**
 * The request context of a change: when, the client IP (as Koa sees it: X-Forwarded-For only with
 * TRUST_PROXY) and the browser. Without a request (the CLI), only the time.
 */
export function contextOf(ctx: Context | undefined, at: Date = new Date()): NotificationContext {
  const userAgent = ctx?.get('user-agent') || undefined;
  return {
    at: at.toISOString(),
    ...(ctx?.ip ? { ip: ctx.ip } : {}),
    ...(userAgent ? { userAgent: userAgent.slice(0, 512), device: describeUserAgent(userAgent) } : {}),
  };
}
