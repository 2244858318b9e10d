import type { Knex } from 'knex';

/**
 * Issue #17: the outbox. A notice to a person (email) or an audit event for the webhook is written
 * here in the same transaction as the change it reports (the same statement as the audit event), and a
 * worker delivers it with retries, so an SMTP or receiver outage or a crash loses nothing.
 * - id: the notice's id, sent as the mail's Message-ID and the webhook's `webhook-id`: a receiver can
 *   drop a second copy (the only duplicate window: a crash after the send, before it is marked sent).
 * - payload: what is delivered, never a secret (whitelisted fields only; src/notifications, src/webhooks).
 * - sealed: the one secret a notice can carry (the forgot-password link), AES-GCM sealed with
 *   ENCRYPTION_KEY (a key outside the database) and bound to the row id; erased once delivered or dead.
 * - status: pending → sent, or dead (a dead letter: max attempts reached, or expired) for an admin to see.
 * - next_attempt_at: when a worker may take it (again); a worker taking it moves it forward by a lease,
 *   so a crashed worker's rows come back by themselves and two workers never hold the same row.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('outbox', (t) => {
    t.uuid('id').primary();
    t.text('channel').notNullable(); // 'email' | 'webhook'
    t.text('kind').notNullable(); // a notification kind, or an audit event type
    t.uuid('account_id'); // email: whose address receives it (read at delivery time)
    t.bigInteger('audit_event_id'); // webhook: the event delivered (the admin's audit page shows the status)
    t.jsonb('payload').notNullable();
    t.text('sealed');
    t.text('status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }); // not delivered by then: dead (a reset link that no longer works)
    t.text('last_error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('sent_at', { useTz: true });
    t.index(['audit_event_id']);
    t.index(['status', 'created_at']);
  });
  await knex.raw("ALTER TABLE outbox ADD CONSTRAINT outbox_channel CHECK (channel IN ('email', 'webhook'))");
  await knex.raw("ALTER TABLE outbox ADD CONSTRAINT outbox_status CHECK (status IN ('pending', 'sent', 'dead'))");
  // what the workers poll: only the pending rows, by due time
  await knex.raw("CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('outbox');
}
