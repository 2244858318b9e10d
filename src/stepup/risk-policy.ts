/** Issue #16: the policy file's `risk` section (src/stepup/risk.ts applies it). No imports: levels.ts reads it. */

/** Stable reason codes: the audit trail's `stepup.decision`, the page's why-sentence and the notice use these. */
export const RISK_REASONS = ['new_device', 'new_network', 'recent_failures'] as const;
export type RiskReason = (typeof RISK_REASONS)[number];

export type OnUnreachable = 'notify' | 'deny';

interface SignalSetting {
  enabled: boolean;
  /** the level this signal demands for the sign-in (an acr of the policy) */
  demand: string;
}

export interface RiskPolicy {
  /**
   * What happens when the account cannot reach a demanded level with the factors it has (a password
   * only): `notify` lets the sign-in go on at the app's level, audited, and notifies the user; `deny`
   * refuses it. Never: enrolling a factor because of a signal (a stolen password on an attacker's laptop
   * must not add the attacker's authenticator).
   */
  onUnreachable: OnUnreachable;
  newDevice: SignalSetting & {
    /** the device cookie's lifetime; 400 days is the most browsers keep a cookie (RFC 6265bis) */
    cookieMaxAgeDays: number;
  };
  newNetwork: SignalSetting & {
    /** the prefix length that makes one network, IPv4 */
    ipv4Prefix: number;
    /** …and IPv6 */
    ipv6Prefix: number;
  };
  recentFailures: SignalSetting & {
    /** fires at this many failed attempts counted on the account (the failure counters' window) */
    threshold: number;
  };
}

/** The defaults every deployment gets (issue #16: signals are on unless the policy file turns them off). */
export const DEFAULT_RISK_POLICY: RiskPolicy = Object.freeze({
  onUnreachable: 'notify',
  newDevice: Object.freeze({ enabled: true, demand: 'aal2', cookieMaxAgeDays: 400 }),
  newNetwork: Object.freeze({ enabled: true, demand: 'aal2', ipv4Prefix: 24, ipv6Prefix: 48 }),
  recentFailures: Object.freeze({ enabled: true, demand: 'aal2', threshold: 3 }),
}) as RiskPolicy;

