import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.uuid('id').primary();
    // stored lower-cased; unique so login by email is unambiguous
    t.text('email').notNullable().unique();
    t.text('name');
    // argon2id PHC string (SPEC §3); never logged or returned
    t.text('password_hash');
    t.boolean('is_admin').notNullable().defaultTo(false);
    t.timestamp('disabled_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('clients', (t) => {
    t.text('client_id').primary();
    // AES-256-GCM sealed with ENCRYPTION_KEY: oidc-provider needs the plain secret for
    // client_secret_basic/post/jwt, so it cannot be a one-way hash (SPEC §6)
    t.text('client_secret_sealed');
    t.jsonb('redirect_uris').notNullable().defaultTo('[]');
    t.jsonb('post_logout_redirect_uris').notNullable().defaultTo('[]');
    t.jsonb('grant_types').notNullable().defaultTo('["authorization_code","refresh_token"]');
    t.text('scope');
    t.jsonb('default_acr_values').notNullable().defaultTo('[]');
    // enforced server-side; a request cannot lower it (SPEC §2)
    t.text('minimum_acr');
    t.text('client_name');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('signing_keys', (t) => {
    t.text('kid').primary();
    t.text('alg').notNullable();
    t.jsonb('public_jwk').notNullable();
    // private JWK sealed with ENCRYPTION_KEY
    t.text('private_jwk_sealed').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // set when a newer key replaced it; still published until every token it signed has expired
    t.timestamp('retired_at', { useTz: true });
  });

  await knex.schema.createTable('audit_events', (t) => {
    t.bigIncrements('id').primary();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('type').notNullable();
    t.text('outcome').notNullable();
    t.text('reason');
    t.text('actor');
    t.text('subject');
    t.text('client_id');
    t.text('ip');
    t.text('user_agent');
    t.text('request_id');
    t.jsonb('details').notNullable().defaultTo('{}');
    t.index(['subject', 'at']);
    t.index(['type', 'at']);
  });
  // The audit trail is append-only for the application: updates and deletes are refused by the database.
  await knex.raw(`
    CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$;
  `);
  await knex.raw(`
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('audit_events');
  await knex.raw('DROP FUNCTION IF EXISTS audit_events_append_only()');
  await knex.schema.dropTableIfExists('signing_keys');
  await knex.schema.dropTableIfExists('clients');
  await knex.schema.dropTableIfExists('accounts');
}
