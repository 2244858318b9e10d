import type { z } from 'zod';
import type { OutboxEntry } from '../store/outbox.repo.js';
import type { outboxEntryOutput } from './outbox.schemas.js';

/** An outbox entry as the admin API and UI show it (issue #17): a mail's payload is the person's, not shown. */
export const outboxJson = (e: OutboxEntry): z.output<typeof outboxEntryOutput> => ({
  id: e.id,
  channel: e.channel,
  kind: e.kind,
  account_id: e.accountId,
  audit_event_id: e.auditEventId,
  status: e.status,
  attempts: e.attempts,
  next_attempt_at: e.status === 'pending' ? new Date(e.nextAttemptAt).toISOString() : null,
  last_error: e.lastError,
  created_at: new Date(e.createdAt).toISOString(),
  sent_at: e.sentAt ? new Date(e.sentAt).toISOString() : null,
  payload: e.channel === 'webhook' ? e.payload : null,
});

/** A delivery's status in words, for the audit page. */
export function deliveryWords(e: OutboxEntry): string {
  if (e.status === 'sent') return `delivered${e.attempts > 1 ? ` after ${e.attempts} attempts` : ''}`;
  if (e.status === 'dead') return `failed after ${e.attempts} attempt${e.attempts === 1 ? '' : 's'}, given up`;
  return e.attempts === 0 ? 'waiting' : `retrying (${e.attempts} attempt${e.attempts === 1 ? '' : 's'} so far)`;
}
