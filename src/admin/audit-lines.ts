import { isAuditEventType, type AuditEventType } from '../audit/audit.js';
import { describeUserAgent } from './user-agent.js';

/**
 * Issue #15: the audit page an on-call engineer can read at 3 a.m.: one sentence per event ("alice@…
 * signed in with a password at payroll, from Chrome 156 on Linux"), the raw fields folded away.
 */
interface EventLike {
  type: string;
  outcome: string;
  reason: string | null;
  actor: string | null;
  subject: string | null;
  client_id: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
}

/** [what happened on success, on failure], said of the subject (or the actor for admin.*). */
const PHRASES: Partial<Record<AuditEventType, [string, string]>> = {
  'login.password': ['signed in with a password', 'failed a password sign-in'],
  'login.totp': ['entered an authenticator app code', 'entered a wrong authenticator app code'],
  'login.webauthn': ['used a passkey or security key', 'failed with a passkey or security key'],
  'login.recovery_code': ['used a recovery code', 'entered a wrong recovery code'],
  'factor.enroll': ['added a sign-in method', 'failed to add a sign-in method'],
  'factor.rename': ['renamed a sign-in method', 'failed to rename a sign-in method'],
  'factor.remove': ['removed a sign-in method', 'failed to remove a sign-in method'],
  'recovery_codes.issued': ['got new recovery codes', 'did not get new recovery codes'],
  'password.change': ['changed their password', 'failed to change their password'],
  'password.reset_requested': ['asked for a password reset link', 'asked for a password reset link'],
  'password.reset': ['set a new password with a reset link', 'failed to reset their password'],
  'password.set': ['got a password set from the command line', 'did not get a new password'],
  'consent.recorded': ['was signed in to an application', 'was not signed in'],
  'admin.access_denied': ['was refused the admin pages', 'was refused the admin pages'],
  'admin.webhook.retry': ['sent a dead webhook delivery again', 'could not send a webhook delivery again'],
  'risk.demand_unreachable': ['signed in from a new device, network or after failed attempts without a second factor', 'was refused a sign-in from a new device, network or after failed attempts (no second factor)'],
  'device.forget': ['forgot a device', 'failed to forget a device'],
  'sessions.sign_out_everywhere': ['signed out everywhere', 'failed to sign out everywhere'],
};

const ADMIN_PHRASES: Partial<Record<AuditEventType, string>> = {
  'admin.user.create': 'created the user',
  'admin.user.disable': 'disabled',
  'admin.user.enable': 'enabled',
  'admin.factor.remove': 'removed a sign-in method of',
  'admin.factors.reset': 'reset every second factor of',
  'admin.factor.import_totp': 'imported an authenticator app for',
  'admin.sessions.revoke': 'ended every session of',
  'admin.session.end': 'ended a session of',
  'admin.user.require_password_change': 'changed "new password at next sign-in" for',
  'admin.user.set_password': 'set a temporary password for',
  'admin.device.forget': 'forgot a device of',
  'admin.devices.forget_all': 'forgot every device and network of',
};

export function describeEvent(e: EventLike, names: Map<string, string>): string {
  const name = (id: string | null) => (id ? (names.get(id) ?? id) : 'someone');
  const where = e.client_id ? ` at ${e.client_id}` : '';
  const from = e.user_agent ? `, from ${describeUserAgent(e.user_agent)}` : '';
  const why = e.reason ? ` (${e.reason.replace(/_/g, ' ')})` : '';
  if (e.type === 'stepup.decision') {
    const held = Array.isArray(e.details.held) ? (e.details.held as unknown[]).map(String) : [];
    const target = typeof e.details.target === 'string' ? e.details.target : undefined;
    const change = held.length || target ? `: holds ${held[held.length - 1] ?? 'nothing'}, ${e.outcome === 'success' ? 'gets' : 'asked for'} ${target ?? 'an unreachable level'}` : '';
    // issue #16: the risk signals that fired, by their stable codes
    const signals = Array.isArray(e.details.signals) ? (e.details.signals as Array<{ reason?: unknown }>).map((x) => String(x.reason).replace(/_/g, ' ')) : [];
    return `Step-up decision for ${name(e.subject)}${where}${why}${change}${signals.length ? ` (signals: ${signals.join(', ')})` : ''}`;
  }
  // a stored row may carry a type this version does not record: it is shown raw
  const known = isAuditEventType(e.type) ? e.type : undefined;
  const admin = known && ADMIN_PHRASES[known];
  if (admin) {
    const label = typeof e.details.label === 'string' ? ` ("${e.details.label}")` : '';
    return `${name(e.actor)} ${admin} ${name(e.subject)}${label}${e.outcome === 'success' ? '' : ': failed'}${why}${from}`;
  }
  const phrase = known && PHRASES[known];
  const what = phrase ? phrase[e.outcome === 'failure' ? 1 : 0] : `${e.type} (${e.outcome})`;
  return `${name(e.subject ?? e.actor)} ${what}${where}${why}${from}`;
}
