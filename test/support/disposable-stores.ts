import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
const REDIS_CLI = process.env.REDIS_CLI ?? '/usr/bin/redis-cli';
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

/** One redis-server process (data node or sentinel) of a disposable topology. */
interface RedisNode {
  port: number;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** for the exit hook: no waiting */
  killNow(): void;
}

async function spawnRedisNode(dir: string, name: string, args: string[], opts: { sentinel?: boolean } = {}): Promise<RedisNode> {
  const port = await freePort();
  const log = join(dir, `${name}.log`);
  let child: ChildProcess;
  if (opts.sentinel) {
    // a sentinel rewrites its configuration file: each one gets its own
    const conf = join(dir, `${name}.conf`);
    writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `logfile ${log}`, ...args].join('\n') + '\n');
    child = spawn(REDIS_SERVER, [conf, '--sentinel'], { stdio: 'ignore' });
  } else {
    const nodeDir = join(dir, name);
    mkdirSync(nodeDir);
    child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--logfile', log, ...args], { stdio: 'ignore' });
  }
  await until(`redis ${name}`, async () => {
    if (child.exitCode !== null) throw new Error(`redis ${name} exited (${child.exitCode}), see ${log}`);
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } finally {
      probe.disconnect();
    }
  });
  return {
    port,
    killNow: () => child.kill('SIGKILL'),
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    },
  };
}

/** Sends one command to one node (a plain connection, no cluster or sentinel logic). */
export async function redisCommand(port: number, ...args: string[]): Promise<unknown> {
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true });
  c.on('error', () => undefined);
  try {
    return await c.call(args[0]!, ...args.slice(1));
  } finally {
    c.disconnect();
  }
}

export interface DisposableRedisCluster {
  /** `host:port,…` as REDIS_CLUSTER_NODES takes it */
  nodes: string;
  ports: number[];
  dispose(): Promise<void>;
}

/** A Redis Cluster of `masters` masters, no replicas, on free loopback ports (issue #18). */
export async function startDisposableRedisCluster(masters = 3): Promise<DisposableRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'stepup-fault-redis-cluster-'));
  const nodes: RedisNode[] = [];
  const forget = onExit(() => {
    for (const n of nodes) n.killNow();
    rmSync(dir, { recursive: true, force: true });
  });
  const dispose = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
    forget();
  };
  try {
    for (let i = 0; i < masters; i++) nodes.push(await spawnRedisNode(dir, `node-${i}`, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${i}.conf`, '--cluster-node-timeout', '2000']));
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    const created = spawnSync(REDIS_CLI, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
    // every node must see every slot served before a client is pointed at it
    await until('redis cluster', async () => {
      const infos = await Promise.all(nodes.map((n) => redisCommand(n.port, 'CLUSTER', 'INFO')));
      return infos.every((info) => String(info).includes('cluster_state:ok'));
    });
    return { nodes: addresses.join(','), ports: nodes.map((n) => n.port), dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

export interface DisposableSentinelGroup {
  /** `host:port,…` as REDIS_SENTINELS takes it */
  sentinels: string;
  name: string;
  masterPort: number;
  replicaPort: number;
  /** SIGKILL of the current master: no shutdown, no last write (a crashed machine) */
  killMaster(): Promise<void>;
  /** the port the sentinels name as master now */
  currentMasterPort(): Promise<number>;
  dispose(): Promise<void>;
}

/**
 * One master, one replica and three sentinels (quorum 2) on free loopback ports (issue #18). The
 * master is declared down after 1 s without an answer, so a failover takes a few seconds.
 */
export async function startDisposableSentinelGroup(name = 'stepup'): Promise<DisposableSentinelGroup> {
  const dir = mkdtempSync(join(tmpdir(), 'stepup-fault-redis-sentinel-'));
  const nodes: RedisNode[] = [];
  const forget = onExit(() => {
    for (const n of nodes) n.killNow();
    rmSync(dir, { recursive: true, force: true });
  });
  const dispose = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
    forget();
  };
  try {
    const master = await spawnRedisNode(dir, 'master', []);
    const replica = await spawnRedisNode(dir, 'replica', ['--replicaof', '127.0.0.1', String(master.port)]);
    nodes.push(master, replica);
    await until('replica in sync', async () => String(await redisCommand(replica.port, 'INFO', 'replication')).includes('master_link_status:up'));
    const sentinels: RedisNode[] = [];
    for (let i = 0; i < 3; i++) {
      const sentinel = await spawnRedisNode(
        dir,
        `sentinel-${i}`,
        [`sentinel monitor ${name} 127.0.0.1 ${master.port} 2`, `sentinel down-after-milliseconds ${name} 1000`, `sentinel failover-timeout ${name} 10000`, `sentinel parallel-syncs ${name} 1`],
        { sentinel: true },
      );
      sentinels.push(sentinel);
      nodes.push(sentinel);
    }
    // the sentinels have found each other and the replica (else a failover could not be agreed)
    await until('sentinels', async () => {
      const views = (await Promise.all(sentinels.map((s) => redisCommand(s.port, 'SENTINEL', 'MASTER', name)))) as string[][];
      return views.every((v) => Number(v[v.indexOf('num-other-sentinels') + 1]) === 2 && Number(v[v.indexOf('num-slaves') + 1]) === 1);
    });
    const currentMasterPort = async () => Number(((await redisCommand(sentinels[0]!.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[])[1]);
    return {
      sentinels: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      name,
      masterPort: master.port,
      replicaPort: replica.port,
      async killMaster() {
        const port = await currentMasterPort();
        await nodes.find((n) => n.port === port)!.kill('SIGKILL');
      },
      currentMasterPort,
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

const PGBOUNCER = process.env.PGBOUNCER ?? '/usr/sbin/pgbouncer';

export interface DisposablePgBouncer {
  /** postgres:// URL of the pooled database */
  url: string;
  port: number;
  dispose(): Promise<void>;
}

/**
 * PgBouncer (Debian's package) in transaction mode on a free loopback port, in front of `target`
 * (issue #18). A small server pool (default 2 server connections) so that a client's statements
 * really land on different server connections: anything that kept session state across statements
 * (SET, a session advisory lock, a named prepared statement) would break. It refuses to run as root,
 * so as root it runs as the postgres OS user, like the disposable Postgres.
 */
export async function startDisposablePgBouncer(target: { host: string; port: number; database: string; user?: string }, opts: { poolSize?: number } = {}): Promise<DisposablePgBouncer> {
  if (!existsSync(PGBOUNCER)) throw new Error(`${PGBOUNCER} not found: install Debian's pgbouncer (apt-get install pgbouncer; .ci/run does)`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'stepup-pgbouncer-'));
  const user = target.user ?? 'postgres';
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`);
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `stepup = host=${target.host} port=${target.port} dbname=${target.database} user=${user}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${opts.poolSize ?? 2}`,
      'max_client_conn = 200',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    for (const f of ['', 'userlist.txt', 'pgbouncer.ini']) chownSync(join(dir, f), uid, gid);
  }
  // setpriv execs pgbouncer itself (no parent in between), so a signal to the child reaches pgbouncer
  const [cmd, argv] = asRoot ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', PGBOUNCER, join(dir, 'pgbouncer.ini')]] : [PGBOUNCER, [join(dir, 'pgbouncer.ini')]];
  const child = spawn(cmd as string, argv as string[], { stdio: 'ignore' });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  const forget = onExit(() => {
    kill();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `postgres://${user}@127.0.0.1:${port}/stepup`;
  const dispose = async () => {
    const exited = child.exitCode === null && child.signalCode === null ? new Promise((r) => child.once('exit', r)) : Promise.resolve();
    kill();
    await exited;
    rmSync(dir, { recursive: true, force: true });
    forget();
  };
  try {
    await until('pgbouncer', async () => {
      if (child.exitCode !== null) throw new Error(`pgbouncer exited (${child.exitCode}), see ${dir}/pgbouncer.log`);
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('select 1');
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  } catch (err) {
    await dispose();
    throw err;
  }
  return { url, port, dispose };
}
