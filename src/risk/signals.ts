import type { Context } from 'koa';
import type { Audit } from '../audit/audit.js';
import type { Notifier } from '../notifications/notifier.js';
import { describeUserAgent } from '../admin/user-agent.js';
import { passwordAccountSubject } from '../factors/password/password.factor.js';
import { riskEnabled, type Demand, type FiredSignal, type Policy, type RiskFacts } from '../stepup/index.js';
import type { KnownDevicesRepo } from '../store/known-devices.repo.js';
import type { FailureLimiter } from '../store/redis/failure-limiter.js';
import { deviceDigest, type DeviceCookie } from './device-cookie.js';
import { networkOf } from './network.js';

/**
 * Issue #16: gathering the risk facts of a sign-in (I/O), once, when a verification identifies the
 * account; src/stepup/risk.ts decides what they demand. Kept with the interaction's progress as a
 * RiskRecord, so every page, the oidc-provider check at the resume and the audit trail read the same.
 * Cost on the sign-in path (issue #6): one Postgres query and one Redis MGET here, one upsert when the
 * sign-in finishes; nothing at all when every signal is off.
 */
export interface GatheredRisk {
  facts: RiskFacts;
  /** SHA-256 of the browser's device id */
  deviceDigest: string;
  /** "Firefox 140 on Linux" */
  device: string;
  /** the client's network, e.g. 127.1.2.0/24 */
  network: string;
}

/** What the interaction keeps: the facts and what the policy made of them for this request and account. */
export interface RiskRecord extends GatheredRisk {
  fired: FiredSignal[];
  demands: Demand[];
  deny: boolean;
}

/**
 * Every failure counter of an account (the subjects of src/factors/: the password's is per typed email,
 * the others per account), so failures on any factor count, from any IP.
 */
export const accountFailureSubjects = (account: { id: string; email: string }) => [
  passwordAccountSubject(account.email),
  `totp:acct:${account.id}`,
  `recovery:acct:${account.id}`,
  `webauthn:acct:${account.id}`,
];

export interface RiskSignalsDeps {
  policy: Policy;
  devices: KnownDevicesRepo;
  limiter: FailureLimiter;
  cookie: DeviceCookie;
  audit: Audit;
  notify: Notifier;
}

const SIGN_IN_NOTICE_REASONS = new Set(['new_device', 'new_network']);

const noticeOf = (accountId: string, record: RiskRecord, outcome: 'signed_in' | 'refused') =>
  ({ kind: 'new_device_sign_in', accountId, outcome, signals: record.fired.map((f) => f.reason), network: record.network }) as const;

export function createRiskSignals(deps: RiskSignalsDeps) {
  const risk = deps.policy.risk;
  const enabled = riskEnabled(risk);
  return {
    enabled,
    /**
     * The facts for this browser, network and account. Issues the device cookie when the browser has no
     * valid one (such a browser is a new device, so its digest is not even looked up).
     * Call it before a success resets the account's failure counters.
     */
    async gather(ctx: Context, account: { id: string; email: string }): Promise<GatheredRisk | undefined> {
      if (!enabled) return undefined;
      const device = deps.cookie.ensure(ctx, risk.newDevice.cookieMaxAgeDays);
      const digest = deviceDigest(device.id);
      const network = networkOf(ctx.ip, risk.newNetwork);
      const lookUp = risk.newDevice.enabled || risk.newNetwork.enabled;
      const [known, failures] = await Promise.all([
        lookUp ? deps.devices.known(account.id, device.issued ? undefined : digest, network) : { device: true, network: true },
        risk.recentFailures.enabled ? deps.limiter.counts(accountFailureSubjects(account)) : [],
      ]);
      return {
        facts: { knownDevice: known.device, knownNetwork: known.network, recentFailures: failures.reduce((a, b) => a + b, 0) },
        deviceDigest: digest,
        device: describeUserAgent(ctx.get('user-agent')),
        network,
      };
    },
    /**
     * The sign-in finished. Only one that met every demanded step makes its device and network known
     * (issue #16): one that went on without an unreachable demand (onUnreachable "notify") leaves them
     * new, so the next sign-in from there is asked (and notified) again.
     */
    async finished(ctx: Context, accountId: string, record: RiskRecord, clientId: string, now: number): Promise<void> {
      const unreachable = record.fired.filter((f) => f.outcome === 'unreachable');
      if (unreachable.length === 0) {
        await deps.devices.remember({ accountId, deviceDigest: record.deviceDigest, description: record.device, network: record.network, at: now });
      } else {
        await deps.audit.record({ type: 'risk.demand_unreachable', outcome: 'info', reason: 'notify', subject: accountId, clientId, details: { signals: record.fired, network: record.network, device: record.device } }, ctx);
      }
      if (record.fired.some((f) => SIGN_IN_NOTICE_REASONS.has(f.reason))) await deps.notify.send(ctx, noticeOf(accountId, record, 'signed_in'));
    },
    /** onUnreachable "deny": the sign-in is refused; audited, and the user is told (their password may be known to someone). */
    async refused(ctx: Context, accountId: string, record: RiskRecord, clientId: string, now: number): Promise<void> {
      await deps.audit.record({ type: 'risk.demand_unreachable', outcome: 'failure', reason: 'deny', subject: accountId, clientId, details: { signals: record.fired, network: record.network, device: record.device } }, ctx);
      await deps.notify.send(ctx, noticeOf(accountId, record, 'refused'));
    },
  };
}

export type RiskSignals = ReturnType<typeof createRiskSignals>;
