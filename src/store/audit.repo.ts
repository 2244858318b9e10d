import type { Db } from './db.js';

export interface AuditEvent {
  type: string;
  outcome: 'success' | 'failure' | 'info';
  reason?: string;
  actor?: string;
  subject?: string;
  clientId?: string;
  ip?: string;
  userAgent?: string;
  requestId?: string;
  details?: Record<string, unknown>;
}

export interface StoredAuditEvent extends AuditEvent {
  id: string;
  at: Date;
}

export function createAuditRepo(db: Db) {
  return {
    async append(e: AuditEvent): Promise<void> {
      await db('audit_events').insert({
        type: e.type,
        outcome: e.outcome,
        reason: e.reason ?? null,
        actor: e.actor ?? null,
        subject: e.subject ?? null,
        client_id: e.clientId ?? null,
        ip: e.ip ?? null,
        user_agent: e.userAgent?.slice(0, 512) ?? null,
        request_id: e.requestId ?? null,
        details: JSON.stringify(e.details ?? {}),
      });
    },
    async list(filter: { subject?: string; type?: string; limit?: number } = {}): Promise<StoredAuditEvent[]> {
      const q = db('audit_events').orderBy('id', 'desc').limit(filter.limit ?? 100);
      if (filter.subject) q.where({ subject: filter.subject });
      if (filter.type) q.where({ type: filter.type });
      const rows = await q;
      return rows.map((r: Record<string, unknown>) => ({
        id: String(r.id),
        at: r.at as Date,
        type: r.type as string,
        outcome: r.outcome as AuditEvent['outcome'],
        reason: (r.reason as string) ?? undefined,
        actor: (r.actor as string) ?? undefined,
        subject: (r.subject as string) ?? undefined,
        clientId: (r.client_id as string) ?? undefined,
        ip: (r.ip as string) ?? undefined,
        userAgent: (r.user_agent as string) ?? undefined,
        requestId: (r.request_id as string) ?? undefined,
        details: r.details as Record<string, unknown>,
      }));
    },
  };
}

export type AuditRepo = ReturnType<typeof createAuditRepo>;
