import type { Context } from 'koa';
import type { Logger } from '../ops/logger.js';
import type { AuditEvent, AuditRepo } from '../store/audit.repo.js';

/** Every decision and security event goes to the audit trail (Postgres) and the log. */
export function createAudit(repo: AuditRepo, logger: Logger) {
  return {
    async record(event: AuditEvent, ctx?: Context): Promise<void> {
      const full: AuditEvent = {
        ...event,
        ip: event.ip ?? ctx?.ip,
        userAgent: event.userAgent ?? ctx?.get('user-agent'),
        requestId: event.requestId ?? (ctx?.state.requestId as string | undefined),
      };
      logger.info({ audit: { ...full, userAgent: undefined } }, `audit ${event.type} ${event.outcome}`);
      await repo.append(full);
    },
    list: repo.list,
    lastSignIns: repo.lastSignIns,
    types: repo.types,
  };
}

export type Audit = ReturnType<typeof createAudit>;
