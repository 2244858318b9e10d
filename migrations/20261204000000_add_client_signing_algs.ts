import type { Knex } from 'knex';

/**
 * Issue #14: the algorithm each client's ID tokens (and, when it asks for them, signed UserInfo
 * responses) are signed with. OpenID Connect Dynamic Client Registration §2 makes RS256 the default of
 * `id_token_signed_response_alg`, so new clients get RS256. Clients registered before this migration
 * were signed with ES256 (stepup's fixed choice until then) and keep it, so no working relying party
 * breaks on upgrade; change them with the admin API or UI.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.text('id_token_signed_response_alg').notNullable().defaultTo('ES256');
    // null: UserInfo answers plain JSON (OIDC Core §5.3.2); set: a JWT signed with this algorithm
    t.text('userinfo_signed_response_alg');
  });
  await knex.raw(`ALTER TABLE clients ALTER COLUMN id_token_signed_response_alg SET DEFAULT 'RS256'`);
  // only algorithms stepup holds a signing key for (src/oidc/signing-keys.ts)
  await knex.raw(`ALTER TABLE clients ADD CONSTRAINT clients_id_token_alg_check CHECK (id_token_signed_response_alg IN ('ES256', 'RS256'))`);
  await knex.raw(`ALTER TABLE clients ADD CONSTRAINT clients_userinfo_alg_check CHECK (userinfo_signed_response_alg IS NULL OR userinfo_signed_response_alg IN ('ES256', 'RS256'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE clients DROP CONSTRAINT IF EXISTS clients_userinfo_alg_check');
  await knex.raw('ALTER TABLE clients DROP CONSTRAINT IF EXISTS clients_id_token_alg_check');
  await knex.schema.alterTable('clients', (t) => {
    t.dropColumns('id_token_signed_response_alg', 'userinfo_signed_response_alg');
  });
}
