import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('factors', (t) => {
    t.uuid('id').primary();
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('type').notNullable(); // totp | webauthn
    t.text('label').notNullable();
    // pending until confirmed by one valid code (SPEC §3): a pending factor never counts for a level
    t.text('status').notNullable().defaultTo('pending');
    // TOTP secret, AES-256-GCM sealed with ENCRYPTION_KEY and bound to this row's id (SPEC §3)
    t.text('secret_sealed');
    // RFC 6238 §5.2: a time step is accepted once; updated with a compare-and-set, never read-then-write
    t.bigInteger('last_used_step');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('confirmed_at', { useTz: true });
    t.timestamp('last_used_at', { useTz: true });
    t.index(['account_id']);
  });
  await knex.raw(`ALTER TABLE factors ADD CONSTRAINT factors_type_check CHECK (type IN ('totp', 'webauthn'))`);
  await knex.raw(`ALTER TABLE factors ADD CONSTRAINT factors_status_check CHECK (status IN ('pending', 'active'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('factors');
}
