import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Sealer } from '../crypto/encryption.js';
import type { Db } from './db.js';

/**
 * The outbox (issue #17, migrations/20261206031700_create_outbox.ts): what must leave the process (a
 * mail to a person, an audit event to the webhook), written with the change it reports and delivered
 * by the worker (src/outbox/worker.ts). Times come from the caller's clock (tests move it).
 */
export type OutboxChannel = 'email' | 'webhook';
export type OutboxStatus = 'pending' | 'sent' | 'dead';

export interface OutboxEntry {
  id: string;
  channel: OutboxChannel;
  kind: string;
  accountId: string | null;
  auditEventId: string | null;
  payload: Record<string, unknown>;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: Date;
  expiresAt: Date | null;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
}

/** A row taken by a worker, with its secret opened (the reset link), if it has one. */
export interface ClaimedEntry extends OutboxEntry {
  secret?: string;
}

export interface NewOutboxEntry {
  channel: OutboxChannel;
  kind: string;
  accountId?: string;
  payload: Record<string, unknown>;
  /** a secret to deliver (the forgot-password link): sealed, never stored as is */
  secret?: string;
  /** not delivered by then: dead, never sent late */
  expiresAt?: Date;
}

interface Row {
  id: string;
  channel: OutboxChannel;
  kind: string;
  account_id: string | null;
  audit_event_id: string | number | null;
  payload: Record<string, unknown>;
  sealed: string | null;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: Date;
  expires_at: Date | null;
  last_error: string | null;
  created_at: Date;
  sent_at: Date | null;
}

const toEntry = (r: Row): OutboxEntry => ({
  id: r.id,
  channel: r.channel,
  kind: r.kind,
  accountId: r.account_id,
  auditEventId: r.audit_event_id === null ? null : String(r.audit_event_id),
  payload: r.payload,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  expiresAt: r.expires_at,
  lastError: r.last_error,
  createdAt: r.created_at,
  sentAt: r.sent_at,
});

// the sealed secret is bound to its row: a ciphertext copied to another row does not open
const sealContext = (id: string) => `outbox:${id}`;
/** An error message from a mail server or a receiver is theirs: bounded, and never a secret of ours. */
const MAX_ERROR = 500;

export interface OutboxFilter {
  channel?: OutboxChannel;
  status?: OutboxStatus;
  /** cursor: entries created before this one */
  before?: string;
  limit?: number;
}

export function createOutboxRepo(db: Db, sealer: Sealer, clock: () => Date = () => new Date()) {
  const listeners = new Set<() => void>();
  const added = () => {
    for (const l of listeners) l();
  };
  return {
    /** Called when an entry was written (and committed): the worker of this process looks at once instead of at its next poll. */
    onAdded(listener: () => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Tells the listeners an entry was written outside `add` (the audit repository's statement). */
    added,


    /** Writes an entry with `q`: the change's transaction (the usual case) or the pool. Returns its id. */
    async add(q: Knex, entry: NewOutboxEntry): Promise<string> {
      const id = randomUUID();
      await q('outbox').insert({
        id,
        channel: entry.channel,
        kind: entry.kind,
        account_id: entry.accountId ?? null,
        payload: JSON.stringify(entry.payload),
        sealed: entry.secret === undefined ? null : sealer.seal(entry.secret, sealContext(id)),
        next_attempt_at: clock(),
        expires_at: entry.expiresAt ?? null,
      });
      // in a transaction the entry is visible once it commits: wake the worker then (never for a rollback)
      if (q.isTransaction) (q as Knex.Transaction).executionPromise.then(added, () => undefined);
      else added();
      return id;
    },

    /**
     * The columns of a webhook entry for an audit event, for the audit repository's single statement
     * (an INSERT … SELECT from the event just inserted: both or neither).
     */
    webhookColumns(kind: string, payload: Record<string, unknown>) {
      return { id: randomUUID(), kind, payload: JSON.stringify(payload), nextAttemptAt: clock() };
    },

    /**
     * Takes up to `limit` due entries of `channels` for delivery. `FOR UPDATE SKIP LOCKED` lets several
     * workers (instances) poll at once without waiting for or taking each other's rows, and the same
     * statement moves each row's next_attempt_at forward by `leaseMs` and counts the attempt: a worker
     * that dies holding rows gives them back when the lease ends, and no other worker takes them
     * before (the lease is longer than a delivery's timeout).
     */
    async claim(channels: OutboxChannel[], limit: number, leaseMs: number): Promise<ClaimedEntry[]> {
      if (channels.length === 0) return [];
      const now = clock();
      const due = db('outbox')
        .select('id')
        .where({ status: 'pending' })
        .whereIn('channel', channels)
        .andWhere('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at', 'asc')
        .limit(limit)
        .forUpdate()
        .skipLocked();
      const rows = (await db('outbox')
        .whereIn('id', due)
        .update({ attempts: db.raw('attempts + 1'), next_attempt_at: new Date(now.getTime() + leaseMs) })
        .returning('*')) as Row[];
      return rows.map((r) => {
        const entry: ClaimedEntry = toEntry(r);
        if (r.sealed) entry.secret = sealer.open(r.sealed, sealContext(r.id));
        return entry;
      });
    },

    /** Delivered: the secret is erased (it was needed only to send it). */
    async markSent(id: string): Promise<void> {
      await db('outbox').where({ id, status: 'pending' }).update({ status: 'sent', sent_at: clock(), sealed: null, last_error: null });
    },

    /** Failed: tried again at `retryAt`, or a dead letter (undefined), whose secret is erased. */
    async markFailed(id: string, error: string, retryAt: Date | undefined): Promise<void> {
      const last_error = error.replace(/\u0000/g, '').slice(0, MAX_ERROR);
      if (retryAt) await db('outbox').where({ id, status: 'pending' }).update({ next_attempt_at: retryAt, last_error });
      else await db('outbox').where({ id, status: 'pending' }).update({ status: 'dead', sealed: null, last_error });
    },

    /** An admin sends a dead webhook delivery again (a receiver fixed after an outage). Entries with a secret or an expiry cannot be. */
    async retry(id: string): Promise<OutboxEntry | undefined> {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
      const [row] = (await db('outbox')
        .where({ id, status: 'dead', channel: 'webhook' })
        .update({ status: 'pending', attempts: 0, next_attempt_at: clock(), last_error: null })
        .returning('*')) as Row[];
      return row ? toEntry(row) : undefined;
    },

    async find(id: string): Promise<OutboxEntry | undefined> {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
      const row = (await db('outbox').where({ id }).first()) as Row | undefined;
      return row ? toEntry(row) : undefined;
    },

    /** Newest first. */
    async list(filter: OutboxFilter = {}): Promise<OutboxEntry[]> {
      const q = db('outbox').orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(filter.limit ?? 50);
      if (filter.channel) q.where({ channel: filter.channel });
      if (filter.status) q.where({ status: filter.status });
      if (filter.before && /^[0-9a-f-]{36}$/i.test(filter.before)) {
        const cursor = db('outbox').select('created_at').where({ id: filter.before });
        q.where('created_at', '<', cursor);
      }
      return ((await q) as Row[]).map(toEntry);
    },

    /** The webhook delivery of each audit event (the admin's audit page). */
    async webhookDeliveries(auditEventIds: string[]): Promise<Map<string, OutboxEntry>> {
      const ids = auditEventIds.filter((id) => /^\d{1,19}$/.test(id));
      if (ids.length === 0) return new Map();
      const rows = (await db('outbox').where({ channel: 'webhook' }).whereIn('audit_event_id', ids)) as Row[];
      return new Map(rows.map((r) => [String(r.audit_event_id), toEntry(r)]));
    },

    /** Delivered entries are kept a while (the audit page shows them), then dropped; dead letters stay. */
    async prune(sentBefore: Date): Promise<number> {
      return db('outbox').where({ status: 'sent' }).andWhere('sent_at', '<', sentBefore).delete();
    },

    /** Entries by channel and status (the metrics' outbox depth gauge and the admin API). */
    async depth(): Promise<Array<{ channel: OutboxChannel; status: OutboxStatus; count: number }>> {
      const rows = (await db('outbox').select('channel', 'status').count({ count: '*' }).groupBy('channel', 'status')) as Array<{ channel: OutboxChannel; status: OutboxStatus; count: string }>;
      return rows.map((r) => ({ channel: r.channel, status: r.status, count: Number(r.count) }));
    },
  };
}

export type OutboxRepo = ReturnType<typeof createOutboxRepo>;
