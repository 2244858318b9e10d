import type { Knex } from 'knex';

/**
 * Issue #15 item 4: passwords people can change.
 * - accounts.password_change_required: set by an admin (or `stepup user set-password --must-change`);
 *   the next sign-in with the password asks for a new one before it goes on.
 * - password_resets: the single-use links of "forgot password". Only the SHA-256 of the token is
 *   stored (a database reader cannot use a link); a link is good for 15 minutes and once.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.boolean('password_change_required').notNullable().defaultTo(false);
  });
  await knex.schema.createTable('password_resets', (t) => {
    // SHA-256 of the token, base64url: the token itself is only in the link that was sent
    t.text('token_hash').primary();
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.timestamp('expires_at', { useTz: true }).notNullable();
    // set when the link is used: a second use finds nothing
    t.timestamp('used_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('password_resets');
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('password_change_required');
  });
}
