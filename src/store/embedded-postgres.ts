import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The embedded default (SPEC §6: DATABASE_URL absent): PGlite keeps Postgres files under
 * DATA_DIR/pglite and is exposed on a loopback socket, so the rest of stepup talks to it through the
 * same pg + knex code path as a real server. Single process only.
 */
export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  // loaded only here (issue #6): a server with DATABASE_URL never needs PGlite (a few MiB at import, more under tsx)
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite-socket')]);
  const dir = join(dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const db = await PGlite.create(dir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 8 });
  await server.start();
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
