import type { Context } from 'koa';
import type { z } from 'zod';
import type { Audit } from '../audit/audit.js';
import type { OutboxRepo } from '../store/outbox.repo.js';
import { AdminError } from './admin-service.js';
import type { ApiRoute } from './api.routes.js';
import { outboxJson } from './outbox.js';
import { outboxEntryOutput, outboxPageOutput, outboxQuery } from './outbox.schemas.js';

/**
 * Issue #17 in the admin API: the outbox (mails and webhook deliveries) with each entry's status,
 * attempts and last error, dead letters included, and a retry for a dead webhook delivery (a
 * receiver fixed after an outage). A mail cannot be retried: its notice was about a moment, and a
 * reset link in it has expired.
 */
export function outboxApiRoutes(deps: { outbox: OutboxRepo; audit: Audit }): ApiRoute[] {
  return [
    {
      method: 'get',
      path: '/outbox',
      operationId: 'listOutbox',
      summary: 'Mails and webhook deliveries, newest first, by channel and status (pending, sent, dead: a dead letter), with attempts and the last error',
      tag: 'outbox',
      query: outboxQuery,
      responses: { 200: { description: 'A page of outbox entries and the counts by channel and status', schema: outboxPageOutput } },
      async handle(ctx, { query }) {
        const q = query as z.output<typeof outboxQuery>;
        const [entries, counts] = await Promise.all([deps.outbox.list({ channel: q.channel, status: q.status, before: q.before, limit: q.limit }), deps.outbox.depth()]);
        ctx.body = { items: entries.map(outboxJson), next_before: entries.length === q.limit ? entries[entries.length - 1]!.id : null, counts };
      },
    },
    {
      method: 'post',
      path: '/outbox/{entryId}/retry',
      operationId: 'retryWebhookDelivery',
      summary: 'Sends a dead webhook delivery again (attempts start over); 404 for any other entry',
      tag: 'outbox',
      responses: { 200: { description: 'The entry, pending again', schema: outboxEntryOutput } },
      async handle(ctx: Context, { params, actor }) {
        const entry = await deps.outbox.retry(params.entryId!);
        if (!entry) throw new AdminError(404, 'dead webhook delivery not found');
        await deps.audit.record({ type: 'admin.webhook.retry', outcome: 'success', actor: actor.actor, clientId: actor.clientId, details: { entryId: entry.id, auditEventId: entry.auditEventId } }, ctx);
        deps.outbox.added();
        ctx.body = outboxJson(entry);
      },
    },
  ];
}
