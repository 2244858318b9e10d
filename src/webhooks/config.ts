import { AUDIT_EVENT_TYPES, type AuditEventType } from '../audit/event-types.js';

/**
 * WEBHOOK_EVENTS (issue #17): which audit event types go to the webhook. Comma-separated types
 * (`factor.enroll`) or prefixes (`admin.*`); unset or empty: every type. Each must name a type stepup
 * records (src/audit/event-types.ts), so a typo stops the server at start instead of silently sending
 * nothing.
 */
export interface WebhookEventFilter {
  accepts(type: AuditEventType): boolean;
  /** for the log line at start: `*` or the list */
  describe(): string;
}

export function parseWebhookEvents(value: string | undefined): { filter?: WebhookEventFilter; problem?: string } {
  const items = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0 || items.includes('*')) return { filter: { accepts: () => true, describe: () => '*' } };
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const item of items) {
    const prefix = /^([a-z_]+(?:\.[a-z_]+)*)\.\*$/.exec(item)?.[1];
    if (prefix) {
      if (!AUDIT_EVENT_TYPES.some((t) => t.startsWith(`${prefix}.`))) return { problem: `"${item}" matches no audit event type` };
      prefixes.push(`${prefix}.`);
    } else if ((AUDIT_EVENT_TYPES as readonly string[]).includes(item)) exact.add(item);
    else return { problem: `"${item}" is not an audit event type (one of ${AUDIT_EVENT_TYPES.join(', ')}, or a prefix such as admin.*)` };
  }
  return { filter: { accepts: (type) => exact.has(type) || prefixes.some((p) => type.startsWith(p)), describe: () => items.join(',') } };
}

/** Standard Webhooks: `whsec_` then the base64 of 24 to 64 random bytes. */
export function webhookSecretProblem(secret: string): string | undefined {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
  if (!m) return 'must be whsec_ followed by base64 (e.g. whsec_$(openssl rand -base64 32))';
  const bytes = Buffer.from(m[1]!, 'base64').length;
  if (bytes < 24 || bytes > 64) return `must hold 24 to 64 bytes of key (it holds ${bytes})`;
  return undefined;
}
