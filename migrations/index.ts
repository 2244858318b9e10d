import type { Knex } from 'knex';
import * as createCoreTables from './20261122000000_create_core_tables.js';
import * as createFactors from './20261122010000_create_factors.js';
import * as createRecoveryCodes from './20261122020000_create_recovery_codes.js';
import * as addWebAuthnCredentials from './20261122030000_add_webauthn_credentials.js';
import * as addClientSigningAlgs from './20261204000000_add_client_signing_algs.js';
import * as addPasswordChanges from './20261204010000_add_password_changes.js';
import * as createOutbox from './20261206031700_create_outbox.js';
import * as createKnownDevices from './20261206034600_create_known_devices.js';

/**
 * Migrations are listed here rather than discovered from the file system, so the same list runs under
 * tsx, Jest and the compiled build. Append new migrations in order.
 */
const migrations: Record<string, Knex.Migration> = {
  '20261122000000_create_core_tables': createCoreTables,
  '20261122010000_create_factors': createFactors,
  '20261122020000_create_recovery_codes': createRecoveryCodes,
  '20261122030000_add_webauthn_credentials': addWebAuthnCredentials,
  '20261204000000_add_client_signing_algs': addClientSigningAlgs,
  '20261204010000_add_password_changes': addPasswordChanges,
  '20261206031700_create_outbox': createOutbox,
  '20261206034600_create_known_devices': createKnownDevices,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const migration = migrations[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return migration;
  },
};
