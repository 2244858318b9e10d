import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The embedded Postgres (PGlite) is a single-process database: two processes opening the same data
 * directory would corrupt it. The process that owns it records its pid (and, once listening, the
 * loopback URL of its Postgres socket) in DATA_DIR/stepup.pid. Another process refuses to open the
 * files; the CLI instead connects through the running server's socket, so `stepup client create`
 * works next to `npm start`.
 */
interface Owner {
  pid: number;
  url?: string;
}

const ownerFile = (dataDir: string) => join(dataDir, 'stepup.pid');

function readOwner(dataDir: string): Owner | undefined {
  try {
    const raw = readFileSync(ownerFile(dataDir), 'utf8').trim();
    const owner = raw.startsWith('{') ? (JSON.parse(raw) as Owner) : { pid: Number(raw) };
    return owner.pid && owner.pid !== process.pid && isAlive(owner.pid) ? owner : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** The Postgres URL of a live stepup server that owns this data directory, if any. */
export function runningEmbeddedUrl(dataDir: string): string | undefined {
  return readOwner(dataDir)?.url;
}

export function acquireDataDirLock(dataDir: string): { release(): void; publishUrl(url: string): void } {
  mkdirSync(dataDir, { recursive: true });
  const owner = readOwner(dataDir);
  if (owner) throw new Error(`the embedded database in ${dataDir} is in use by process ${owner.pid}; stop it first or set DATABASE_URL`);
  const write = (url?: string) => writeFileSync(ownerFile(dataDir), JSON.stringify({ pid: process.pid, url }), { mode: 0o600 });
  write();
  return {
    release: () => rmSync(ownerFile(dataDir), { force: true }),
    publishUrl: (url) => write(url),
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
