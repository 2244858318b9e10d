import knexFactory, { type Knex } from 'knex';
import { migrationSource } from '../../migrations/index.js';

export type Db = Knex;

export interface DbOptions {
  url: string;
  /** Postgres schema to work in (tests use one per run); created if missing. */
  schema?: string;
  poolMax?: number;
}

export function createDb({ url, schema, poolMax = 10 }: DbOptions): Db {
  return knexFactory({
    client: 'pg',
    connection: url,
    searchPath: schema ? [schema] : undefined,
    pool: {
      min: 0,
      max: poolMax,
      // a fresh connection per pool slot sets the schema explicitly, so a restarted Postgres is fine
      afterCreate: schema
        ? (conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, c: unknown) => void) =>
            conn.query(`SET search_path TO "${schema.replace(/"/g, '""')}"`, (err) => done(err, conn))
        : undefined,
    },
    acquireConnectionTimeout: 10_000,
  });
}

const MIGRATION_LOCK_RETRIES = 40;
const MIGRATION_LOCK_WAIT_MS = 250;

/**
 * Several instances may start at once (the server migrates on start): knex's lock table lets one win
 * and makes the others fail with "already locked", so those wait and try again.
 */
export async function migrateLatest(db: Db, schema?: string): Promise<string[]> {
  if (schema) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]);
  for (let attempt = 0; ; attempt++) {
    try {
      const [, applied] = (await db.migrate.latest({ migrationSource, schemaName: schema })) as [number, string[]];
      return applied;
    } catch (err) {
      const locked = err instanceof Error && /already locked/i.test(err.message);
      if (!locked || attempt >= MIGRATION_LOCK_RETRIES) throw err;
      await new Promise((r) => setTimeout(r, MIGRATION_LOCK_WAIT_MS));
    }
  }
}

export async function migrateRollbackAll(db: Db, schema?: string): Promise<void> {
  await db.migrate.rollback({ migrationSource, schemaName: schema }, true);
}
