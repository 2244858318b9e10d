import { z } from 'zod';

/** Issue #17: the outbox in the admin API (mails and webhook deliveries, their status). */
export const outboxQuery = z
  .object({
    channel: z.enum(['email', 'webhook']).optional(),
    status: z.enum(['pending', 'sent', 'dead']).optional(),
    /** an entry id: the next page holds older entries */
    before: z.uuid().optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();

export const outboxEntryOutput = z.object({
  id: z.string().describe('the entry id: the mail Message-ID, the webhook-id header'),
  channel: z.enum(['email', 'webhook']),
  kind: z.string().describe('the notification kind (email) or the audit event type (webhook)'),
  account_id: z.string().nullable().describe('email: the recipient account'),
  audit_event_id: z.string().nullable().describe('webhook: the audit event delivered'),
  status: z.enum(['pending', 'sent', 'dead']),
  attempts: z.number().int(),
  next_attempt_at: z.string().nullable().describe('pending: when the next attempt may happen'),
  last_error: z.string().nullable(),
  created_at: z.string(),
  sent_at: z.string().nullable(),
  payload: z.record(z.string(), z.unknown()).nullable().describe('webhook: the JSON body that is signed and posted (never a secret); null for mails'),
});

export const outboxPageOutput = z.object({
  items: z.array(outboxEntryOutput),
  /** pass as `before` for the next (older) page; null at the end */
  next_before: z.string().nullable(),
  /** every entry by channel and status */
  counts: z.array(z.object({ channel: z.enum(['email', 'webhook']), status: z.enum(['pending', 'sent', 'dead']), count: z.number().int() })),
});
