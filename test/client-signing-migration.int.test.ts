import { afterAll, describe, expect, it } from '@jest/globals';
import { migrationSource } from '../migrations/index.js';
import { createDb } from '../src/store/db.js';
import { dropIsolation, newIsolation, TEST_DATABASE_URL } from './support/env.js';

/**
 * Issue #14's migration: clients registered before it keep ES256 (what their RPs have been
 * verifying), new rows default to RS256 (OIDC Dynamic Client Registration §2), and only algorithms
 * stepup holds keys for can be stored.
 */
const iso = newIsolation();
const db = createDb({ url: TEST_DATABASE_URL, schema: iso.schema, poolMax: 2 });
afterAll(async () => {
  await db.destroy();
  await dropIsolation(iso);
});

describe('20261204000000_add_client_signing_algs', () => {
  it('keeps ES256 for existing clients, defaults new ones to RS256, refuses unknown algorithms, and rolls back', async () => {
    await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [iso.schema]);
    const opts = { migrationSource, schemaName: iso.schema };
    // everything before this migration
    const THIS = '20261204000000_add_client_signing_algs';
    const nextPending = async () => ((await db.migrate.list(opts)) as [unknown[], Array<{ file?: string } | string>])[1][0];
    for (let next = await nextPending(); next !== undefined && (typeof next === 'string' ? next : next.file) !== THIS; next = await nextPending()) await db.migrate.up(opts);
    await db('clients').insert({ client_id: 'old-rp' });
    await db.migrate.up(opts);
    expect(await db('clients').where({ client_id: 'old-rp' }).first()).toMatchObject({ id_token_signed_response_alg: 'ES256', userinfo_signed_response_alg: null });
    await db('clients').insert({ client_id: 'new-rp' });
    expect(await db('clients').where({ client_id: 'new-rp' }).first()).toMatchObject({ id_token_signed_response_alg: 'RS256' });
    await expect(db('clients').insert({ client_id: 'bad', id_token_signed_response_alg: 'none' })).rejects.toThrow(/clients_id_token_alg_check/);
    await expect(db('clients').insert({ client_id: 'bad', userinfo_signed_response_alg: 'HS256' })).rejects.toThrow(/clients_userinfo_alg_check/);
    await db.migrate.down(opts);
    const columns = await db('information_schema.columns').where({ table_schema: iso.schema, table_name: 'clients' }).pluck('column_name');
    expect(columns).not.toContain('id_token_signed_response_alg');
  });
});
