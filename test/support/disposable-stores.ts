import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from './process.js';

/**
 * Disposable stores for the fault tests (issue #7): a Redis and a Postgres of their own on free loopback
 * ports, so a test may stop and restart them without touching the shared ones other tests (and other
 * people) use. Both are removed on stop(), and also when the test process exits abruptly.
 */
const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';
/** PG_BIN, else the newest Debian/Ubuntu install under /usr/lib/postgresql (initdb and pg_ctl are not on PATH there) */
const PG_BIN =
  process.env.PG_BIN ??
  (() => {
    const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
    return versions.length ? `/usr/lib/postgresql/${versions[0]}/bin` : '/usr/lib/postgresql/15/bin';
  })();
const READY_TIMEOUT_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not become ready`);
    await sleep(100);
  }
}

/** Cleanups still to run if the process exits before the test's own afterAll (a crash, a timeout). */
const pendingCleanups = new Set<() => void>();
let exitHookInstalled = false;
function onExit(cleanup: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of pendingCleanups) c();
    });
  }
  pendingCleanups.add(cleanup);
  return () => pendingCleanups.delete(cleanup);
}

export interface DisposableRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, like `systemctl stop`); with AOF on, the data is written first. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops for good and removes the data directory. */
  dispose(): Promise<void>;
}

/**
 * A redis-server on a free loopback port. `persistence: 'aof'` mirrors docker-compose.yml
 * (appendonly yes; `always` fsync here so the test is deterministic); `'none'` loses everything on a restart.
 */
export async function startDisposableRedis(opts: { persistence: 'aof' | 'none' } = { persistence: 'aof' }): Promise<DisposableRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'stepup-fault-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--protected-mode', 'yes', '--logfile', join(dir, 'redis.log')];
  args.push(...(opts.persistence === 'aof' ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
  let child: ChildProcess | undefined;

  const ping = async () => {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } finally {
      probe.disconnect();
    }
  };
  const start = async () => {
    child = spawn(REDIS_SERVER, args, { stdio: 'ignore' });
    const c = child;
    await until('redis-server', async () => {
      if (c.exitCode !== null) throw new Error(`redis-server exited (${c.exitCode}), see ${dir}/redis.log`);
      return ping();
    });
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  };
  const forget = onExit(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      forget();
    },
  };
}

export interface DisposablePostgres {
  url: string;
  port: number;
  /** `pg_ctl stop -m fast`: open connections are terminated, like a restart by the operator. */
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

function asPostgres(bin: string, args: string[]) {
  // we run as root in CI; Postgres refuses to run as root, so its tools run as the postgres OS user
  const res = process.getuid?.() === 0 ? spawnSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args], { encoding: 'utf8' }) : spawnSync(join(PG_BIN, bin), args, { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${res.status}): ${res.stderr || res.stdout}`);
  return res.stdout;
}

function asPostgresAsync(bin: string, args: string[]): Promise<void> {
  const [cmd, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args]] : [join(PG_BIN, bin), args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd as string, argv as string[], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${bin} failed (${code}): ${err}`))));
  });
}

/** A throwaway Postgres cluster (initdb + pg_ctl) on a free loopback port, trust auth, fsync off. */
export async function startDisposablePostgres(): Promise<DisposablePostgres> {
  const port = await freePort();
  const root = mkdtempSync(join(tmpdir(), 'stepup-fault-pg-'));
  const data = join(root, 'data');
  if (process.getuid?.() === 0) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(root, uid, gid);
  }
  asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale', 'C']);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60`;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;

  const canQuery = async () => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  let running = false;
  const start = async () => {
    await asPostgresAsync('pg_ctl', ['-D', data, '-o', options, '-l', join(root, 'postgres.log'), '-w', '-t', '60', 'start']);
    running = true;
    await until('postgres', canQuery);
  };
  const stop = async () => {
    if (!running) return;
    running = false;
    await asPostgresAsync('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
  };
  const forget = onExit(() => {
    try {
      asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
    } catch {
      /* not running */
    }
    rmSync(root, { recursive: true, force: true });
  });
  try {
    await start();
  } catch (err) {
    await stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
    forget();
    throw err;
  }
  return {
    url,
    port,
    stop,
    start,
    async dispose() {
      await stop().catch(() => asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']));
      rmSync(root, { recursive: true, force: true });
      forget();
    },
  };
}
