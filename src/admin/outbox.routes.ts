import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Audit } from '../audit/audit.js';
import type { OutboxChannel, OutboxRepo, OutboxStatus } from '../store/outbox.repo.js';
import { deliveryWords, outboxJson } from './outbox.js';
import type { AdminPageKit } from './ui.routes.js';

/**
 * Issue #17 in the admin UI: each audit event's webhook delivery on the audit page (delivered,
 * retrying, given up), and /admin/outbox, the mails and deliveries by status with their last error,
 * where a dead webhook delivery can be sent again. Views autoescape (an error message is the
 * receiver's text).
 */
const STATUSES: readonly OutboxStatus[] = ['pending', 'sent', 'dead'];
const CHANNELS: readonly OutboxChannel[] = ['email', 'webhook'];
const fmt = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '');
const pick = <T extends string>(v: unknown, allowed: readonly T[]) => (typeof v === 'string' && (allowed as readonly string[]).includes(v) ? (v as T) : undefined);

/** For the audit page: the webhook delivery of each event shown. */
export const auditDeliveries = (outbox: OutboxRepo) => async (eventIds: string[]) => {
  const deliveries = await outbox.webhookDeliveries(eventIds);
  return new Map([...deliveries].map(([id, e]) => [id, { delivery: { id: e.id, status: e.status, words: deliveryWords(e), lastError: e.lastError } }]));
};

export const mountOutboxPages = (deps: { outbox: OutboxRepo; audit: Audit }) => (router: Router, kit: AdminPageKit) => {
  router.get('/admin/outbox', async (ctx) => {
    const status = pick(ctx.query.status, STATUSES);
    const channel = pick(ctx.query.channel, CHANNELS);
    const [entries, counts] = await Promise.all([deps.outbox.list({ status, channel, limit: 100 }), deps.outbox.depth()]);
    kit.page(ctx, 'admin/outbox.njk', {
      title: 'Mails and webhooks',
      status,
      channel,
      statuses: STATUSES,
      channels: CHANNELS,
      counts,
      entries: entries.map((e) => ({ ...outboxJson(e), words: deliveryWords(e), created: fmt(outboxJson(e).created_at), next: fmt(outboxJson(e).next_attempt_at) })),
      notice: ctx.query.retried === '1' ? 'The delivery is pending again.' : undefined,
    });
  });

  router.post('/admin/outbox/:id/retry', ...kit.post, async (ctx: Context) => {
    const entry = await deps.outbox.retry(String(ctx.params.id ?? ''));
    if (!entry) return kit.problem(ctx, 404, 'Not found', 'There is no dead webhook delivery with that id.');
    const by = kit.actorOf(ctx);
    await deps.audit.record({ type: 'admin.webhook.retry', outcome: 'success', actor: by.actor, clientId: by.clientId, details: { entryId: entry.id, auditEventId: entry.auditEventId } }, ctx);
    deps.outbox.added();
    ctx.status = 303;
    ctx.redirect('/admin/outbox?channel=webhook&retried=1');
  });
};
