import type { Knex } from 'knex';

/**
 * Issue #16: the devices and networks an account has signed in from (risk signals newDevice and
 * newNetwork). A device is a random id in a signed cookie; only its SHA-256 is stored, so a copy of the
 * database cannot be turned into a "known device" cookie. A network is a prefix (IPv4 /24, IPv6 /48 by
 * default), never the full address. A row is written only after a sign-in that met every demanded step.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('known_devices', (t) => {
    t.uuid('id').primary();
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    // SHA-256 of the device cookie's id, base64url
    t.text('device_digest').notNullable();
    // "Firefox 140 on Linux", parsed from the User-Agent when last seen
    t.text('description').notNullable();
    // the network (prefix) it last signed in from, e.g. 203.0.113.0/24
    t.text('last_network').notNullable();
    t.timestamp('first_seen_at', { useTz: true }).notNullable();
    t.timestamp('last_seen_at', { useTz: true }).notNullable();
    t.unique(['account_id', 'device_digest']);
  });
  await knex.schema.createTable('known_networks', (t) => {
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('network').notNullable();
    t.timestamp('first_seen_at', { useTz: true }).notNullable();
    t.timestamp('last_seen_at', { useTz: true }).notNullable();
    t.primary(['account_id', 'network']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('known_networks');
  await knex.schema.dropTableIfExists('known_devices');
}
