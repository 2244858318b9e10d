import type { Db } from './db.js';

/**
 * One row of the audit trail as stored. `type` is any string here: rows written by another version
 * stay readable. What may be recorded is narrower: `AuditEvent` in src/audit/audit.ts (issue #17).
 */
export interface AuditRecord {
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

export interface StoredAuditEvent extends AuditRecord {
  id: string;
  at: Date;
}

/** Postgres text and jsonb cannot hold NUL; attacker-chosen inputs are also cut to a bounded size. */
const MAX_FIELD = 512;
const clean = (v: string | undefined) => (v === undefined ? null : v.replace(/\u0000/g, '').slice(0, MAX_FIELD));
const cleanDetails = (details: Record<string, unknown> | undefined) =>
  JSON.stringify(details ?? {}, (_key, value: unknown) => (typeof value === 'string' ? value.replace(/\u0000/g, '').slice(0, MAX_FIELD) : value));

export interface AuditFilter {
  subject?: string;
  actor?: string;
  type?: string;
  since?: Date;
  until?: Date;
  /** cursor: only events with a smaller id */
  before?: string;
  limit?: number;
}

/** The webhook outbox entry written with an event (outbox.repo.ts webhookColumns). */
export interface WebhookEntry {
  id: string;
  kind: string;
  payload: string;
  nextAttemptAt: Date;
}

export function createAuditRepo(db: Db) {
  return {
    /**
     * Appends an event. With `webhook` (issue #17), its outbox entry is written by the same statement
     * (an INSERT … SELECT from the inserted event): the event and its delivery exist together or not at
     * all, and the payload gets the id and time Postgres gave the event.
     */
    async append(e: AuditRecord, webhook?: WebhookEntry): Promise<void> {
      const event = db('audit_events').insert({
        type: e.type,
        outcome: e.outcome,
        reason: clean(e.reason),
        actor: clean(e.actor),
        subject: clean(e.subject),
        client_id: clean(e.clientId),
        ip: clean(e.ip),
        user_agent: clean(e.userAgent),
        request_id: clean(e.requestId),
        details: cleanDetails(e.details),
      });
      if (!webhook) {
        await event;
        return;
      }
      await db.raw(
        `WITH ev AS (?)
         INSERT INTO outbox (id, channel, kind, audit_event_id, payload, next_attempt_at)
         SELECT ?, 'webhook', ?, ev.id,
                jsonb_set(jsonb_set(?::jsonb, '{data,id}', to_jsonb(ev.id::text)), '{data,at}', to_jsonb(ev.at)) || jsonb_build_object('timestamp', ev.at),
                ?
         FROM ev`,
        [event.returning(['id', 'at']), webhook.id, webhook.kind, webhook.payload, webhook.nextAttemptAt],
      );
    },
    /** Issue #15, the admin's user list: each account's latest successful sign-in step (a `login.*` event). */
    async lastSignIns(subjects: string[]): Promise<Map<string, Date>> {
      if (subjects.length === 0) return new Map();
      const rows = (await db('audit_events')
        .whereIn('subject', subjects)
        .andWhere('outcome', 'success')
        .andWhereRaw("type like 'login.%'")
        .groupBy('subject')
        .select('subject')
        .max({ at: 'at' })) as Array<{ subject: string; at: Date }>;
      return new Map(rows.map((r) => [r.subject, new Date(r.at)]));
    },
    /** Issue #15: the audit page's type picker: every event type recorded so far. */
    async types(): Promise<string[]> {
      const rows = (await db('audit_events').distinct('type').orderBy('type')) as Array<{ type: string }>;
      return rows.map((r) => r.type);
    },
    /**
     * Newest first. `type` ending in `.` or `*` matches a prefix (`factor.*`); `before` is a cursor (an
     * event id: the next page holds older events); `since`/`until` bound the time.
     */
    async list(filter: AuditFilter = {}): Promise<StoredAuditEvent[]> {
      const q = db('audit_events').orderBy('id', 'desc').limit(filter.limit ?? 100);
      if (filter.subject) q.where({ subject: filter.subject });
      if (filter.actor) q.where({ actor: filter.actor });
      if (filter.type) {
        const prefix = /^(.*?)\.?\*$/.exec(filter.type);
        if (prefix) q.whereRaw("type like ? escape '\\'", [`${prefix[1]!.replace(/[\\%_]/g, (c) => `\\${c}`)}.%`]);
        else q.where({ type: filter.type });
      }
      if (filter.since) q.where('at', '>=', filter.since);
      if (filter.until) q.where('at', '<', filter.until);
      if (filter.before) q.where('id', '<', filter.before);
      const rows = await q;
      return rows.map((r: Record<string, unknown>) => ({
        id: String(r.id),
        at: r.at as Date,
        type: r.type as string,
        outcome: r.outcome as AuditRecord['outcome'],
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
