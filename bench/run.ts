/**
 * `npm run bench` (issue #6): stepup in its production configuration (Redis adapter, Postgres,
 * argon2id at the configured OWASP parameters) and, in the same run, a bare oidc-provider with its
 * in-memory adapter and the same clients, keys and algorithms, both as child processes on loopback.
 * Every rate is also given per server CPU-second (from /proc), so a shared or busy machine still
 * gives comparable figures. Writes bench/results/latest.{json,md}.
 *
 *   npm run bench                    # default: about 2.5 minutes
 *   npm run bench -- --quick         # a smoke run: about 1 minute
 *   npm run bench -- --duration 12   # seconds per endpoint under autocannon, split into 3 alternating rounds
 *   npm run bench -- --profile       # also V8 CPU profiles of both servers (--cpu-prof) in bench/results/profiles/
 *   npm run bench -- --update-readme # also put the table into README.md (between the bench markers)
 *   npm run bench -- --only refresh,userinfo  # an A/B experiment: only these measurements (and the sign-ins
 *                                              # that make their tokens); never with --update-readme
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import knexFactory from 'knex';
import { loadConfig } from '../src/config/env.js';
import { hashPassword, verifyPassword } from '../src/factors/password/password.js';
import { newTotpSecret } from '../src/factors/totp/totp.js';
import { TTL } from '../src/oidc/provider.js';
import { ensureSigningKeys, loadProviderJwks } from '../src/oidc/signing-keys.js';
import { createLogger } from '../src/ops/logger.js';
import { openStores, type Stores } from '../src/store/stores.js';
import { createIsolationSchema, dropIsolation, newIsolation, testEnv, TEST_DATABASE_URL, TEST_REDIS_URL } from '../test/support/env.js';
import { freePort, ROOT } from '../test/support/process.js';
import { discover, RP_REDIRECT } from '../test/support/rp.js';
import type { Browser } from '../test/support/browser.js';
import { cannon, closedLoop, forCount, forDuration, fullLogin, passwordSession, stepUp, takeUser, type BenchUser, type Stat, type Target, type Tokens } from './flows.js';
import { cpuSeconds, memoryMiB, startChild, type ServerChild } from './proc.js';
import { renderMarkdown, type Results, type ServerResults } from './report.js';
import { BENCH_API_RESOURCE, BENCH_API_SCOPE, PRODUCTION_NODE_FLAGS, type BareServerConfig } from './shared.js';

const args = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'update-readme': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
}).values;

/**
 * Issue #20: an experiment measures the endpoints it changes, alternating with the bare provider as
 * always, in a fraction of the time. The password sign-ins and step-ups always run: they make the
 * sessions and tokens the other measurements use.
 */
const ONLY = args.only ? new Set([...args.only.split(',').map((s) => s.trim()).filter(Boolean), 'password_login', 'step_up']) : undefined;
if (ONLY && args['update-readme']) throw new Error('--only runs a part of the bench: it never replaces the README table');

const QUICK = Boolean(args.quick);
const SECONDS = Number(args.duration ?? (QUICK ? 2 : 6));
const LOGIN_SECONDS = QUICK ? 4 : 12;
/**
 * Timed measurements run in this many alternating rounds (stepup, bare, stepup, …), each a share of
 * the time: on a shared machine the others' load changes within seconds, and one long run each put the
 * two servers in different conditions (ratios moved by ±25 % between runs).
 */
const ROUNDS = 3;
const ROUND_SECONDS = Math.max(1, Math.round(SECONDS / ROUNDS));
// the bare provider's in-memory adapter keeps 1000 records (LRU): many more waiting sessions would be evicted
const STEP_UPS = QUICK ? 40 : 100;
const LOGIN_USERS = QUICK ? 300 : 900;
const FLOW_CONCURRENCY = 4;
const CONNECTIONS = 8;
const PASSWORD = 'correct horse battery staple';
/** Postgres backends flush their table statistics within 10 s of going idle (PGSTAT_IDLE_INTERVAL, PG 15). */
const PG_STATS_SETTLE_MS = 11_000;

const RESULTS = join(ROOT, 'bench', 'results');
const log = (msg: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

interface Fixture {
  rp: { clientId: string; clientSecret: string };
  service: { clientId: string; clientSecret: string };
  loginUsers: BenchUser[];
  stepUpUsers: BenchUser[];
}

async function seed(stores: Stores): Promise<Fixture> {
  const rp = { clientId: 'bench-rp', clientSecret: randomBytes(32).toString('base64url') };
  const service = { clientId: 'bench-service', clientSecret: randomBytes(32).toString('base64url') };
  // ES256 ID tokens, as the bare provider signs them: the comparison stays like with like (issue #14 made RS256 the default)
  await stores.clients.create({ ...rp, redirectUris: [RP_REDIRECT], postLogoutRedirectUris: [], grantTypes: ['authorization_code', 'refresh_token'], defaultAcrValues: [], idTokenSignedResponseAlg: 'ES256' });
  await stores.clients.create({ ...service, redirectUris: [], postLogoutRedirectUris: [], grantTypes: ['client_credentials'], scope: BENCH_API_SCOPE, defaultAcrValues: [] });
  // one argon2id hash for all (each has its own salt in real life; verifying costs the same)
  const passwordHash = await hashPassword(PASSWORD);
  const make = async (i: number): Promise<BenchUser> => {
    const email = `bench-${i}@example.com`;
    const account = await stores.accounts.create({ email, passwordHash });
    const totpSecret = newTotpSecret();
    const factor = await stores.factors.createPendingTotp(account.id, 'Phone', totpSecret);
    await stores.factors.claimTotpStep(factor.id, account.id, 1); // confirmed long ago
    return { email, password: PASSWORD, totpSecret, lastStep: 0 };
  };
  const users: BenchUser[] = [];
  const total = LOGIN_USERS + STEP_UPS;
  for (let i = 0; i < total; i += 20) users.push(...(await Promise.all(Array.from({ length: Math.min(20, total - i) }, (_, j) => make(i + j)))));
  return { rp, service, loginUsers: users.slice(0, LOGIN_USERS), stepUpUsers: users.slice(LOGIN_USERS) };
}

/** Postgres rows inserted, updated and deleted so far in the run's schema, per table. */
async function pgWrites(schema: string): Promise<Record<string, number>> {
  const db = knexFactory({ client: 'pg', connection: TEST_DATABASE_URL, pool: { min: 0, max: 1 } });
  try {
    const { rows } = await db.raw('SELECT relname, n_tup_ins + n_tup_upd + n_tup_del AS n FROM pg_stat_user_tables WHERE schemaname = ?', [schema]);
    return Object.fromEntries((rows as { relname: string; n: string }[]).map((r) => [r.relname, Number(r.n)]));
  } finally {
    await db.destroy();
  }
}

/**
 * What one round trip to each store, and one argon2id verification, cost in CPU on this machine,
 * measured in the bench process with the same client libraries (issue #6: where a sign-in's CPU goes).
 */
async function machineCosts(): Promise<NonNullable<Results['machineCosts']>> {
  const cpuMs = (from: NodeJS.CpuUsage) => {
    const d = process.cpuUsage(from);
    return (d.user + d.system) / 1000;
  };
  const redis = new Redis(TEST_REDIS_URL);
  const db = knexFactory({ client: 'pg', connection: TEST_DATABASE_URL, pool: { min: 1, max: 1 } });
  try {
    const hash = await hashPassword(PASSWORD);
    for (let i = 0; i < 5; i++) await verifyPassword(hash, PASSWORD);
    let t = process.cpuUsage();
    for (let i = 0; i < 30; i++) await verifyPassword(hash, PASSWORD);
    const argon2VerifyCpuMs = cpuMs(t) / 30;
    for (let i = 0; i < 200; i++) await redis.ping();
    t = process.cpuUsage();
    for (let i = 0; i < 2000; i++) await redis.ping();
    const redisRoundTripCpuUs = (cpuMs(t) * 1000) / 2000;
    for (let i = 0; i < 100; i++) await db.raw('select 1');
    t = process.cpuUsage();
    for (let i = 0; i < 1000; i++) await db.raw('select ?::int as n', [i]);
    const postgresQueryCpuUs = (cpuMs(t) * 1000) / 1000;
    log(`machine: argon2id verification ${argon2VerifyCpuMs.toFixed(1)} ms CPU, Redis round trip ${redisRoundTripCpuUs.toFixed(0)} µs, Postgres query ${postgresQueryCpuUs.toFixed(0)} µs (client CPU)`);
    return { argon2VerifyCpuMs, redisRoundTripCpuUs, postgresQueryCpuUs };
  } finally {
    redis.disconnect();
    await db.destroy();
  }
}

/** Redis memory (MEMORY USAGE) of every key under the prefix, grouped by kind. */
async function redisMemory(prefix: string): Promise<{ byKind: Record<string, { keys: number; bytes: number }>; sessions: number }> {
  const redis = new Redis(TEST_REDIS_URL);
  const byKind: Record<string, { keys: number; bytes: number }> = {};
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      const pipeline = redis.pipeline();
      for (const k of keys) pipeline.memory('USAGE', k, 'SAMPLES', '0');
      const sizes = (await pipeline.exec()) ?? [];
      keys.forEach((k, i) => {
        const rest = k.slice(prefix.length).replace(/^oidc:/, '');
        const kind = rest.slice(0, rest.indexOf(':') === -1 ? undefined : rest.indexOf(':'));
        byKind[kind] ??= { keys: 0, bytes: 0 };
        byKind[kind].keys++;
        byKind[kind].bytes += Number(sizes[i]?.[1] ?? 0);
      });
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return { byKind, sessions: byKind.session?.keys ?? 0 };
}

async function redisPerSession(prefix: string): Promise<NonNullable<ServerResults['redis']>> {
  const mem = await redisMemory(prefix);
  // a session is its record and its uid hash (session id and factor events), see oidc-adapter.ts
  const sessionBytes = ['session', 'session-uid'].reduce((a, k) => a + (mem.byKind[k]?.bytes ?? 0), 0);
  const allBytes = Object.values(mem.byKind).reduce((a, k) => a + k.bytes, 0);
  const redis = {
    activeSessions: mem.sessions,
    bytesPerSession: mem.sessions ? sessionBytes / mem.sessions : NaN,
    allBytesPerSession: mem.sessions ? allBytes / mem.sessions : NaN,
    byKind: mem.byKind,
  };
  log(`stepup: Redis ${redis.bytesPerSession.toFixed(0)} B per active session (session records), ${redis.allBytesPerSession.toFixed(0)} B with its grant and tokens`);
  return redis;
}

interface RunOptions {
  name: 'stepup' | 'bare';
  start: () => Promise<{ server: ServerChild; issuer: string }>;
  fixture: Fixture;
  schema?: string;
  redisPrefix?: string;
}

/** One server under test and what its scenarios leave for the next ones. */
interface Live {
  o: RunOptions;
  server: ServerChild;
  origin: string;
  target: Target;
  idle: { rss: number; peak: number };
  scenarios: ServerResults['scenarios'];
  sessions: { browser: Browser; user: BenchUser }[];
  tokens: Tokens[];
  loginPool: BenchUser[];
  /** each round of each measurement, merged into scenarios by measure() */
  rounds: Record<string, (Stat & { cpu: number })[]>;
}

async function startLive(o: RunOptions): Promise<Live> {
  log(`${o.name}: starting`);
  const { server, issuer } = await o.start();
  const origin = issuer.replace('localhost', '127.0.0.1');
  const target: Target = { issuer, config: await discover(issuer, o.fixture.rp.clientId, o.fixture.rp.clientSecret) };
  // warm-up: a few discovery and JWKS calls, then the idle footprint
  for (let i = 0; i < 20; i++) await Promise.all([fetch(`${origin}/.well-known/openid-configuration`), fetch(`${origin}/jwks`)]);
  await new Promise((r) => setTimeout(r, 1000));
  const idle = memoryMiB(server.pid);
  log(`${o.name}: idle RSS ${idle.rss.toFixed(1)} MiB`);
  return { o, server, origin, target, idle, scenarios: {}, rounds: {}, sessions: [], tokens: [], loginPool: o.fixture.loginUsers.map((u) => ({ ...u })) };
}

/**
 * One round of a measurement. Rounds of the same measurement add up (counts, errors, seconds, CPU);
 * their p50 is the median of the rounds' and their p99 the worst round's.
 */
async function measure(l: Live, name: string, run: () => Promise<Stat>): Promise<void> {
  const cpu0 = cpuSeconds(l.server.pid);
  const from = monotonicMicros();
  const stat = await run();
  const cpu = cpuSeconds(l.server.pid) - cpu0;
  PHASES.push({ server: l.o.name, name, from, to: monotonicMicros(), count: stat.count });
  const rounds = [...(l.rounds[name] ?? []), { ...stat, cpu }];
  l.rounds[name] = rounds;
  const sum = (f: (r: (typeof rounds)[number]) => number) => rounds.reduce((a, r) => a + f(r), 0);
  const p50s = rounds.map((r) => r.p50).sort((a, b) => a - b);
  const merged: Stat = {
    count: sum((r) => r.count),
    errors: sum((r) => r.errors),
    seconds: Math.round(sum((r) => r.seconds) * 100) / 100,
    p50: p50s[Math.floor((p50s.length - 1) / 2)]!,
    p99: Math.max(...rounds.map((r) => r.p99)),
    firstError: rounds.find((r) => r.firstError)?.firstError,
  };
  const cpuTotal = sum((r) => r.cpu);
  l.scenarios[name] = { ...merged, rate: merged.count / merged.seconds, serverCpuSeconds: cpuTotal, perCpuSecond: cpuTotal > 0 ? merged.count / cpuTotal : NaN };
  log(
    `${l.o.name}: ${name}${rounds.length > 1 ? ` (round ${rounds.length})` : ''}: ${stat.count} ok, ${stat.errors} errors, ${(stat.count / stat.seconds).toFixed(1)}/s, ${(stat.count / cpu).toFixed(1)} per server CPU-s, p50 ${stat.p50} ms, p99 ${stat.p99} ms${stat.firstError ? ` (first error: ${stat.firstError})` : ''}`,
  );
}

/**
 * When each stepup measurement ran, on the clock V8's CPU profiles use (CLOCK_MONOTONIC, µs, shared by
 * every process of the machine): bench/profile-summary.ts cuts the profile into endpoints with it.
 */
const PHASES: { server: string; name: string; from: number; to: number; count: number }[] = [];
const PROFILE_DIR = join(RESULTS, 'profiles');
/** V8 CPU profile flags for a server (issue #20: both, so each endpoint compares function by function) */
const profileFlags = (server: string) => (args.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${server}.cpuprofile`] : []);
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/**
 * The measurements, in order. Each runs on stepup and right after on the bare provider, so both see
 * the same machine (others' load on a shared machine changes within minutes).
 */
const SCENARIO_RUNS: { name: string; rounds?: number; run: (l: Live) => Promise<Stat> }[] = [
  // step-up only: first N aal1 sessions (password sign-ins, measured too), then each steps up to aal2
  {
    name: 'password_login',
    run: (l) => {
      const queue = [...l.o.fixture.stepUpUsers];
      return closedLoop(FLOW_CONCURRENCY, forCount(queue.length), async () => {
        const user = queue.shift()!;
        l.sessions.push({ browser: (await passwordSession(l.target, user)).browser, user });
      });
    },
  },
  {
    name: 'step_up',
    run: (l) =>
      closedLoop(FLOW_CONCURRENCY, forCount(l.sessions.length), async () => {
        const s = l.sessions.shift()!;
        l.tokens.push(await stepUp(l.target, s.browser, { ...s.user }));
      }),
  },
  // stateless endpoints: they also give Postgres time to publish the step-up's statistics
  { name: 'discovery', rounds: ROUNDS, run: (l) => cannon(l.origin, { path: '/.well-known/openid-configuration' }, CONNECTIONS, ROUND_SECONDS) },
  { name: 'jwks', rounds: ROUNDS, run: (l) => cannon(l.origin, { path: '/jwks' }, CONNECTIONS, ROUND_SECONDS) },
  {
    name: 'full_login',
    rounds: ROUNDS,
    run: (l) =>
      closedLoop(FLOW_CONCURRENCY, forDuration((LOGIN_SECONDS * 1000) / ROUNDS), async () => {
        l.tokens.push(await fullLogin(l.target, await takeUser(l.loginPool, { singleUse: l.o.name === 'stepup' })));
      }),
  },
  {
    name: 'userinfo',
    rounds: ROUNDS,
    // the newest token: the bare provider's in-memory adapter is an LRU of 1000 entries that evicts old ones
    run: (l) => cannon(l.origin, { path: '/me', headers: { authorization: `Bearer ${l.tokens.at(-1)!.access_token}` } }, CONNECTIONS, ROUND_SECONDS),
  },
  {
    name: 'introspection',
    rounds: ROUNDS,
    run: (l) =>
      cannon(
        l.origin,
        { path: '/token/introspection', method: 'POST', headers: { ...FORM, authorization: basic(l.o.fixture.rp.clientId, l.o.fixture.rp.clientSecret) }, body: `token=${l.tokens.at(-1)!.access_token}` },
        CONNECTIONS,
        ROUND_SECONDS,
      ),
  },
  {
    name: 'client_credentials',
    rounds: ROUNDS,
    run: (l) =>
      cannon(
        l.origin,
        {
          path: '/token',
          method: 'POST',
          headers: { ...FORM, authorization: basic(l.o.fixture.service.clientId, l.o.fixture.service.clientSecret) },
          body: new URLSearchParams({ grant_type: 'client_credentials', scope: BENCH_API_SCOPE, resource: BENCH_API_RESOURCE }).toString(),
        },
        CONNECTIONS,
        ROUND_SECONDS,
      ),
  },
  {
    name: 'refresh',
    // one round: in a second round every chain was refused by the bare provider (its in-memory store is
    // an LRU of 1000 records), so refresh keeps the single run of the whole time
    // rotation: every refresh token is used once and its successor goes back in the queue (autocannon
    // resets a connection's context after each request of a one-request list, so the queue is shared)
    run: (l) => {
      const queue = l.tokens.slice(-2 * CONNECTIONS).map((t) => t.refresh_token!).filter(Boolean);
      return cannon(
        l.origin,
        {
          path: '/token',
          method: 'POST',
          headers: { ...FORM, authorization: basic(l.o.fixture.rp.clientId, l.o.fixture.rp.clientSecret) },
          setup: () => `grant_type=refresh_token&refresh_token=${queue.shift()}`,
          onResponse: (status, body) => {
            if (status === 200) queue.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
          },
        },
        CONNECTIONS,
        ROUND_SECONDS * ROUNDS,
      );
    },
  },
];

async function benchBoth(stepup: RunOptions, bare: RunOptions): Promise<{ stepup: ServerResults; bare: ServerResults }> {
  const live: Live[] = [];
  try {
    live.push(await startLive(stepup), await startLive(bare));
    const [s] = live as [Live, Live];
    const schema = stepup.schema!;
    let pgBefore: Record<string, number> = {};
    let lastWrite = Date.now();
    let redis: ServerResults['redis'];
    const settle = async () => {
      const wait = PG_STATS_SETTLE_MS - (Date.now() - lastWrite);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    };
    for (const scenario of SCENARIO_RUNS) {
      if (ONLY && !ONLY.has(scenario.name)) continue;
      if (scenario.name === 'full_login') {
        await settle();
        pgBefore = await pgWrites(schema);
      }
      if (scenario.name === 'userinfo') lastWrite = Date.now();
      // timed measurements alternate between the servers in rounds, so both see the same machine
      for (let round = 0; round < (scenario.rounds ?? 1); round++) {
        for (const l of live) await measure(l, scenario.name, () => scenario.run(l));
      }
      if (scenario.name === 'step_up') lastWrite = Date.now();
      // every user signed in so far holds a session and one token set: measured before the token endpoints add more
      if (scenario.name === 'full_login') redis = await redisPerSession(stepup.redisPrefix!);
    }

    const idTokenAlg = (l: Live) => {
      const idToken = l.tokens.at(-1)?.id_token;
      return idToken ? (JSON.parse(Buffer.from(idToken.split('.')[0]!, 'base64url').toString()) as { alg: string }).alg : undefined;
    };
    const results = (l: Live): ServerResults => ({ idTokenAlg: idTokenAlg(l), idleRssMiB: l.idle.rss, peakRssMiB: memoryMiB(l.server.pid).peak, scenarios: l.scenarios });
    // Postgres rows written per login: the full-login phase is the only one writing between the two reads
    if (!s.scenarios.full_login) {
      return { stepup: { ...results(s), redis }, bare: results(live[1]!) };
    }
    await settle();
    const after = await pgWrites(schema);
    const logins = s.scenarios.full_login?.count ?? 0;
    const perTable = Object.fromEntries(
      Object.keys(after)
        .map((t) => [t, (after[t]! - (pgBefore[t] ?? 0)) / Math.max(1, logins)] as const)
        .filter(([, n]) => n > 0),
    );
    const postgresRowsPerLogin = { total: Object.values(perTable).reduce((a, b) => a + b, 0), perTable };
    log(`stepup: Postgres rows written per login: ${postgresRowsPerLogin.total.toFixed(2)} ${JSON.stringify(perTable)}`);

    return { stepup: { ...results(s), postgresRowsPerLogin, redis }, bare: results(live[1]!) };
  } finally {
    for (const l of live) await l.server.stop();
  }
}

function gitCommit(): string | undefined {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'bench', 'migrations', 'package.json', ':(exclude)bench/results'], { cwd: ROOT }).toString().trim();
    return dirty ? `${head}-dirty` : head;
  } catch {
    return undefined;
  }
}

async function main() {
  const started = Date.now();
  // key names count in Redis's MEMORY USAGE: the run's own prefix is as long as the production default
  // REDIS_KEY_PREFIX (`stepup:`), not the tests' 29-character one
  const iso = { ...newIsolation(), redisPrefix: `${randomBytes(3).toString('hex')}:` };
  const tmp = join(tmpdir(), `stepup-bench-${iso.schema}`);
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const issuerFor = (port: number) => `http://localhost:${port}`;
  let succeeded = false;
  log(`quick=${QUICK}, ${SECONDS}s per endpoint, ${LOGIN_SECONDS}s of full logins, ${STEP_UPS} step-ups, schema ${iso.schema}`);
  try {
    // both servers run compiled, with plain node, as the Dockerfile runs stepup (`npm run build`)
    log('compiling src/ and the bare server (tsc -p bench/tsconfig.json)');
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'bench', 'tsconfig.json')], { cwd: ROOT, stdio: 'inherit' });
    // seed stepup's schema in this process (as `stepup client create` / `user create` would), and
    // take its signing keys so the bare provider signs with exactly the same keys
    await createIsolationSchema(iso);
    const stepupPort = await freePort();
    // the bench resource's JWT access tokens in ES256, as the bare provider signs them (RS256 is the default)
    const env = { ...testEnv(iso, issuerFor(stepupPort)), NODE_ENV: 'production', LOG_LEVEL: 'info', RESOURCE_SIGNING_ALGS: `${BENCH_API_RESOURCE}=ES256` };
    const stores = await openStores(loadConfig(env), createLogger('silent'), iso.schema);
    let fixture: Fixture;
    let jwks: { keys: object[] };
    try {
      await ensureSigningKeys(stores.signingKeys);
      jwks = await loadProviderJwks(stores.signingKeys);
      log('seeding users (argon2id password, TOTP factor each) and clients');
      fixture = await seed(stores);
    } finally {
      await stores.close();
    }

    const stepupOptions: RunOptions = {
      name: 'stepup',
      fixture,
      schema: iso.schema,
      redisPrefix: iso.redisPrefix,
      start: async () => {
        if (args.profile) mkdirSync(PROFILE_DIR, { recursive: true });
        const server = await startChild('dist/src/main.js', env, stepupPort, {
          logFile: join(tmp, 'stepup.log'),
          readyPath: '/healthz',
          nodeArgs: [...PRODUCTION_NODE_FLAGS, ...profileFlags('stepup')],
        });
        return { server, issuer: issuerFor(stepupPort) };
      },
    };

    const barePort = await freePort();
    const bareConfig: BareServerConfig = {
      jwks,
      cookieKey: randomBytes(32).toString('base64url'),
      acrValues: ['aal1', 'aal2', 'phr', 'phrh'],
      clients: [
        {
          client_id: fixture.rp.clientId,
          client_secret: fixture.rp.clientSecret,
          redirect_uris: [RP_REDIRECT],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
        {
          client_id: fixture.service.clientId,
          client_secret: fixture.service.clientSecret,
          redirect_uris: [],
          grant_types: ['client_credentials'],
          response_types: [],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
    };
    const bareConfigFile = join(tmp, 'bare.json');
    writeFileSync(bareConfigFile, JSON.stringify(bareConfig), { mode: 0o600 });
    const bareOptions: RunOptions = {
      name: 'bare',
      fixture,
      start: async () => ({
        server: await startChild('dist/bench/bare-server.js', { BENCH_BARE_CONFIG: bareConfigFile }, barePort, {
          logFile: join(tmp, 'bare.log'),
          readyPath: '/.well-known/openid-configuration',
          nodeArgs: profileFlags('bare'),
        }),
        issuer: issuerFor(barePort),
      }),
    };
    const costs = await machineCosts();
    const { stepup: stepupResults, bare: bareResults } = await benchBoth(stepupOptions, bareOptions);
    if (args.profile) {
      writeFileSync(join(RESULTS, 'profiles', 'phases.json'), JSON.stringify(PHASES, null, 1) + '\n');
      log('profile: bench/results/profiles/ (summary by endpoint: npx tsx bench/profile-summary.ts)');
    }

    const results: Results = {
      date: new Date().toISOString(),
      mode: QUICK ? 'quick' : 'default',
      commit: gitCommit(),
      wallSeconds: Math.round((Date.now() - started) / 1000),
      machine: {
        cores: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        node: process.version,
        loadAverageAtEnd: (await import('node:os')).loadavg().map((n) => Math.round(n * 100) / 100),
      },
      machineCosts: costs,
      settings: { rounds: ROUNDS, secondsPerEndpoint: ROUND_SECONDS * ROUNDS, loginSeconds: LOGIN_SECONDS, stepUps: STEP_UPS, flowConcurrency: FLOW_CONCURRENCY, connections: CONNECTIONS, accessTokenTtl: TTL.AccessToken },
      stepup: stepupResults,
      bare: bareResults,
    };
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
    const md = renderMarkdown(results);
    writeFileSync(join(RESULTS, 'latest.md'), md);
    process.stdout.write('\n' + md);
    if (args['update-readme']) {
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const updated = readme.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, `<!-- bench:start -->\n${md}<!-- bench:end -->`);
      writeFileSync(join(ROOT, 'README.md'), updated);
      log('README.md: benchmark table replaced');
    }
    log(`done in ${results.wallSeconds}s: bench/results/latest.md and latest.json`);
    succeeded = true;
  } finally {
    await dropIsolation(iso).catch((err: Error) => log(`cleanup failed: ${err.message}`));
    // the bare server's config holds private signing keys; the servers' logs stay only after a failure
    rmSync(join(tmp, 'bare.json'), { force: true });
    if (succeeded) rmSync(tmp, { recursive: true, force: true });
    else log(`server logs: ${tmp}`);
  }
}

await main();
