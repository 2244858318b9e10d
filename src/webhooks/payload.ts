import type { AuditRecord } from '../store/audit.repo.js';

/**
 * What a webhook carries for an audit event (issue #17), per the Standard Webhooks payload shape
 * `{ type, timestamp, data }`. Fields are whitelisted, never copied wholesale: an audit event's
 * `details` may grow a field a receiver must not see, so only the keys below go out, each with the
 * shape it must have (a number stays a number: `recoveryCodes` is a count, never a list of codes).
 * Nothing secret is in an audit event to begin with (no codes, passwords, tokens, links); this is the
 * second line.
 */
type Shape = 'string' | 'number' | 'boolean' | 'strings' | 'counts';

export const WEBHOOK_DETAIL_FIELDS: Record<string, Shape> = {
  factorId: 'string',
  type: 'string',
  kind: 'string',
  label: 'string',
  aaguid: 'string',
  backupEligible: 'boolean',
  userVerified: 'boolean',
  count: 'number',
  remaining: 'number',
  lockedForSeconds: 'number',
  failures: 'number',
  sessionsEnded: 'number',
  grantsRevoked: 'number',
  revoked: 'counts',
  factors: 'number',
  recoveryCodes: 'number',
  required: 'boolean',
  changeRequired: 'boolean',
  admin: 'boolean',
  confidential: 'boolean',
  clientId: 'string',
  requested: 'strings',
  held: 'strings',
  target: 'string',
  resumed: 'boolean',
  scopes: 'strings',
  via: 'string',
  by: 'string',
};

const MAX_STRING = 200;
const fits = (shape: Shape, v: unknown): unknown => {
  switch (shape) {
    case 'string':
      return typeof v === 'string' ? v.slice(0, MAX_STRING) : undefined;
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    case 'boolean':
      return typeof v === 'boolean' ? v : undefined;
    case 'strings':
      return Array.isArray(v) && v.every((s) => typeof s === 'string') ? v.slice(0, 20).map((s: string) => s.slice(0, MAX_STRING)) : undefined;
    case 'counts':
      return v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((n) => typeof n === 'number') ? { ...(v as Record<string, number>) } : undefined;
  }
};

export function webhookDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details ?? {})) {
    const shape = WEBHOOK_DETAIL_FIELDS[key];
    const kept = shape ? fits(shape, value) : undefined;
    if (kept !== undefined) out[key] = kept;
  }
  return out;
}

/**
 * The payload, without what Postgres assigns (the event's id and time), which the audit repository's
 * statement adds as `data.id` and `timestamp`/`data.at`.
 */
export function webhookPayload(e: AuditRecord): Record<string, unknown> {
  return {
    type: e.type,
    data: {
      type: e.type,
      outcome: e.outcome,
      reason: e.reason ?? null,
      actor: e.actor ?? null,
      subject: e.subject ?? null,
      client_id: e.clientId ?? null,
      ip: e.ip ?? null,
      user_agent: e.userAgent?.slice(0, 512) ?? null,
      request_id: e.requestId ?? null,
      details: webhookDetails(e.details),
    },
  };
}
