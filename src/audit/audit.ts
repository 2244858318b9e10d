import type { Context } from 'koa';
import type { Logger } from '../ops/logger.js';
import type { AuditRecord, AuditRepo } from '../store/audit.repo.js';
import type { AuditEventType } from './event-types.js';
import type { OutboxRepo } from '../store/outbox.repo.js';
import type { WebhookEventFilter } from '../webhooks/config.js';
import { webhookPayload } from '../webhooks/payload.js';

export { AUDIT_EVENT_TYPES, isAuditEventType, loginEventType, type AuditEventType, type LoginEventType } from './event-types.js';

/** What may be recorded: a stored row whose type is one of AUDIT_EVENT_TYPES (issue #17: a typo does not compile). */
export interface AuditEvent extends Omit<AuditRecord, 'type'> {
  type: AuditEventType;
}

/** Told of every event as it is recorded, synchronously (the metrics, issue #17): it must not throw or wait. */
export type AuditObserver = (event: AuditEvent) => void;

/**
 * Every decision and security event goes to the audit trail (Postgres) and the log; with WEBHOOK_URL,
 * the types WEBHOOK_EVENTS selects also go to the webhook outbox, in the same statement (issue #17).
 */
export function createAudit(repo: AuditRepo, logger: Logger, webhooks?: { events: WebhookEventFilter; outbox: OutboxRepo }) {
  const observers: AuditObserver[] = [];
  return {
    /** One place every security event passes: counted here, then stored (an event that happened is counted even if Postgres is down). */
    observe(observer: AuditObserver): void {
      observers.push(observer);
    },
    async record(event: AuditEvent, ctx?: Context): Promise<void> {
      const full: AuditEvent = {
        ...event,
        ip: event.ip ?? ctx?.ip,
        userAgent: event.userAgent ?? ctx?.get('user-agent'),
        requestId: event.requestId ?? (ctx?.state.requestId as string | undefined),
      };
      logger.info({ audit: { ...full, userAgent: undefined } }, `audit ${event.type} ${event.outcome}`);
      for (const observe of observers) {
        try {
          observe(full);
        } catch (err) {
          logger.warn({ err: { message: (err as Error).message } }, 'audit observer failed');
        }
      }
      if (!webhooks?.events.accepts(full.type)) return repo.append(full);
      await repo.append(full, webhooks.outbox.webhookColumns(full.type, webhookPayload(full)));
      webhooks.outbox.added();
    },
    list: repo.list,
    lastSignIns: repo.lastSignIns,
    types: repo.types,
  };
}

export type Audit = ReturnType<typeof createAudit>;
