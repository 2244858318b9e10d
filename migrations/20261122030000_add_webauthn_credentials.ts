import type { Knex } from 'knex';

/**
 * WebAuthn credentials (SPEC §3) live in `factors` beside TOTP, so every factor list, removal and
 * audit treats them alike. The columns are what a later assertion must be checked against.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('factors', (t) => {
    // base64url credential id as the authenticator returned it; unique across all accounts
    t.text('credential_id').unique();
    // COSE public key, base64url (public: not sealed)
    t.text('public_key');
    // SPEC §3: a counter that does not increase (when non-zero) is rejected; compare-and-set updates only
    t.bigInteger('sign_count');
    t.jsonb('transports');
    t.text('aaguid');
    // backup eligible (BE) as registered: false = device-bound. A later assertion claiming BE=1 is rejected.
    t.boolean('backup_eligible');
    // backup state (BS), as last seen
    t.boolean('backup_state');
    // registered with user verification: a passkey (SPEC §1: counts as steps 1 and 2)
    t.boolean('user_verifying');
    // attestation verified at registration (SPEC §3: the policy may require it for phrh)
    t.boolean('attested');
  });
  await knex.raw(
    `ALTER TABLE factors ADD CONSTRAINT factors_webauthn_check CHECK (type <> 'webauthn' OR (credential_id IS NOT NULL AND public_key IS NOT NULL AND sign_count IS NOT NULL AND backup_eligible IS NOT NULL))`,
  );
  // the opaque WebAuthn user handle (user.id): random, never the account id or email (privacy)
  await knex.schema.alterTable('accounts', (t) => {
    t.text('webauthn_user_handle').unique();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DELETE FROM factors WHERE type = 'webauthn'`);
  await knex.raw('ALTER TABLE factors DROP CONSTRAINT IF EXISTS factors_webauthn_check');
  await knex.schema.alterTable('factors', (t) => {
    t.dropColumns('credential_id', 'public_key', 'sign_count', 'transports', 'aaguid', 'backup_eligible', 'backup_state', 'user_verifying', 'attested');
  });
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('webauthn_user_handle');
  });
}
