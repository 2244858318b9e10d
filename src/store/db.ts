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
 * The migration lock's class (any int4 constant of our own); its second key is the schema migrated,
 * so runs on different schemas (the tests') do not wait for each other.
 */
const MIGRATION_LOCK_CLASS = 730197;
/** How long an instance waits for another one's migrations before it gives up starting. */
const MIGRATION_WAIT_MS = 5 * 60_000;

/**
 * Several instances may start at once (the server migrates on start): one takes a Postgres advisory
 * lock and migrates, the others wait until it is free, then find nothing left to do (issue #18).
 * The lock is transaction-scoped (pg_advisory_xact_lock, held by a transaction kept open while the
 * migrations run on other pool connections), never session-scoped: behind PgBouncer in transaction
 * mode a session lock would be taken on one server connection and released on none. The others try
 * it in a transaction that ends at once, so a waiting instance holds no connection while it waits:
 * many instances starting together cannot take every server connection of a small pool from the one
 * migrating. The one migrating needs two connections; the pools (stepup's, PgBouncer's) have more.
 * knex's own lock table stays the second line: an instance of a version without the advisory lock
 * makes the others fail with "already locked", so those wait and try again.
 *
 * @param opts.singleInstance the embedded Postgres (PGlite): one process only, and its connections
 *   share one backend, so no lock is taken
 */
export async function migrateLatest(db: Db, schema?: string, opts: { singleInstance?: boolean } = {}): Promise<string[]> {
  if (schema) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]);
  if (opts.singleInstance) return migrateWithKnexLock(db, schema);
  // the usual start (nothing new to apply) takes no lock: a CLI next to a running embedded server, whose
  // connections share one backend, could not hold a lock and migrate beside it
  if (!(await hasPendingMigrations(db))) return [];
  const deadline = Date.now() + MIGRATION_WAIT_MS;
  for (;;) {
    const applied = await db.transaction(async (trx) => {
      const { rows } = (await trx.raw('SELECT pg_try_advisory_xact_lock(?, hashtext(current_schema())) AS locked', [MIGRATION_LOCK_CLASS])) as { rows: Array<{ locked: boolean }> };
      return rows[0]?.locked ? migrateWithKnexLock(db, schema) : undefined;
    });
    if (applied) return applied;
    if (Date.now() > deadline) throw new Error(`another instance has been migrating the database for ${MIGRATION_WAIT_MS / 60_000} minutes`);
    await new Promise((r) => setTimeout(r, MIGRATION_LOCK_WAIT_MS));
  }
}

/** Read-only (creates no table, unlike knex's migrate.list): is a migration of ours not recorded yet? */
async function hasPendingMigrations(db: Db): Promise<boolean> {
  // unqualified: the schema is the connection's search_path, as for knex's migrations
  const { rows } = (await db.raw("SELECT to_regclass('knex_migrations') IS NOT NULL AS present")) as { rows: Array<{ present: boolean }> };
  if (!rows[0]?.present) return true;
  const done = new Set(((await db('knex_migrations').select('name')) as Array<{ name: string }>).map((r) => r.name));
  const ours = (await migrationSource.getMigrations([])).map((m) => migrationSource.getMigrationName(m));
  return ours.some((name) => !done.has(name));
}

async function migrateWithKnexLock(db: Db, schema?: string): Promise<string[]> {
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
