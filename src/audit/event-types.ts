import { FACTOR_KINDS, type FactorKind } from '../stepup/factor-kinds.js';

/**
 * Every audit event type stepup records, as one list (issue #17): `audit.record({ type })` only takes
 * one of these, so a typo does not compile, and the metrics derived from audit events
 * (src/ops/metrics.ts) have a bounded `type` label. The strings are what the audit trail stores and
 * the admin API / audit page filter on: never rename one, add new ones here (and a phrase in
 * src/admin/audit-lines.ts).
 */

/** A verification step at sign-in or step-up, one per factor kind (src/interactions/verify.routes.ts). */
export type LoginEventType = `login.${FactorKind}`;
export const loginEventType = <K extends FactorKind>(kind: K): `login.${K}` => `login.${kind}`;

export const AUDIT_EVENT_TYPES = [
  ...FACTOR_KINDS.map(loginEventType),
  // SPEC §2: every decision of the step-up check (src/oidc/policy.ts)
  'stepup.decision',
  // the user's own changes (SPEC §4)
  'factor.enroll',
  'factor.rename',
  'factor.remove',
  'recovery_codes.issued',
  'password.change',
  'password.reset_requested',
  'password.reset',
  'consent.recorded',
  // issue #16: risk signals (src/risk/): a demanded level the account cannot reach (notify or deny)
  'risk.demand_unreachable',
  // issue #16: the person's own devices on /account
  'device.forget',
  'sessions.sign_out_everywhere',
  // the command line (SPEC §7)
  'password.set',
  'user.update',
  // the admin UI and API (SPEC §5)
  'admin.access_denied',
  'admin.audit.export',
  'admin.user.create',
  'admin.user.disable',
  'admin.user.enable',
  'admin.user.require_password_change',
  'admin.user.set_password',
  'admin.factor.remove',
  'admin.factor.import_totp',
  'admin.factors.reset',
  'admin.session.end',
  'admin.sessions.revoke',
  // issue #16: an admin forgets one known device, or every device and network, of a user
  'admin.device.forget',
  'admin.devices.forget_all',
  'admin.client.create',
  'admin.client.update',
  'admin.client.rotate_secret',
  'admin.client.delete',
  // issue #17: a dead webhook delivery sent again
  'admin.webhook.retry',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

const KNOWN: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);
/** A stored row may carry a type this version does not record (an older version's): check before trusting it. */
export const isAuditEventType = (type: string): type is AuditEventType => KNOWN.has(type);
