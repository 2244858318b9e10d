import type { Db } from './db.js';

/**
 * Issue #19: the `stepup.decision` events of the audit trail, read as sign-ins (the decisions of one
 * authorization request share `details.signIn`, see src/oidc/decision-record.ts). Read only: the audit
 * table is append-only.
 */
export interface DecisionRow {
  id: string;
  at: Date;
  outcome: 'success' | 'failure' | 'info';
  reason: string | null;
  subject: string | null;
  clientId: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

const TYPE = 'stepup.decision';

const toRow = (r: Record<string, unknown>): DecisionRow => ({
  id: String(r.id),
  at: r.at as Date,
  outcome: r.outcome as DecisionRow['outcome'],
  reason: (r.reason as string | null) ?? null,
  subject: (r.subject as string | null) ?? null,
  clientId: (r.client_id as string | null) ?? null,
  requestId: (r.request_id as string | null) ?? null,
  details: (r.details as Record<string, unknown>) ?? {},
});

const COLUMNS = ['id', 'at', 'outcome', 'reason', 'subject', 'client_id', 'request_id', 'details'];

export function createDecisionsRepo(db: Db) {
  return {
    /** A user's decisions, newest first (`before`: an audit event id cursor), optionally of one client. */
    async forSubject(subject: string, opts: { clientId?: string; before?: string; limit: number }): Promise<DecisionRow[]> {
      const q = db('audit_events').select(COLUMNS).where({ subject, type: TYPE }).orderBy('id', 'desc').limit(opts.limit);
      if (opts.clientId) q.where({ client_id: opts.clientId });
      if (opts.before) q.where('id', '<', opts.before);
      return (await q).map(toRow);
    },
    /** Every decision of the given sign-ins of a user, oldest first. */
    async forSignIns(subject: string, signIns: string[]): Promise<DecisionRow[]> {
      if (signIns.length === 0) return [];
      const rows = await db('audit_events')
        .select(COLUMNS)
        .where({ subject, type: TYPE })
        .whereRaw(`details->>'signIn' = any(?)`, [signIns])
        .orderBy('id', 'asc');
      return rows.map(toRow);
    },
  };
}

export type DecisionsRepo = ReturnType<typeof createDecisionsRepo>;
