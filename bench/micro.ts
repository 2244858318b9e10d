/**
 * Issue #20: the levers whose effect on a whole sign-in is smaller than the bench's run-to-run noise
 * (±30 % of CPU per request on this shared machine), measured one operation at a time instead: the CPU
 * this process spends per operation (user + system, process.cpuUsage), each variant run in alternating
 * rounds so both see the same machine. The server would spend the same client-side CPU; Postgres' and
 * Redis' own CPU is not counted (nor is it in the bench's per-server-CPU figures).
 *
 *   npx tsx bench/micro.ts            # about a minute
 *
 * Needs the tests' Postgres and Redis (TEST_DATABASE_URL, TEST_REDIS_URL); works in its own schema.
 */
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config/env.js';
import { createViews } from '../src/http/render.js';
import { createLogger } from '../src/ops/logger.js';
import { openStores } from '../src/store/stores.js';
import { dropIsolation, newIsolation, testEnv, TEST_REDIS_URL } from '../test/support/env.js';

const ROUNDS = 3;
const log = (msg: string) => process.stdout.write(`${msg}\n`);

/** CPU µs per operation of each variant: `n` sequential operations per round, variants alternating. */
async function compare(title: string, n: number, variants: Record<string, (i: number) => Promise<unknown> | unknown>): Promise<Record<string, number>> {
  const totals: Record<string, number> = Object.fromEntries(Object.keys(variants).map((k) => [k, 0]));
  for (const run of Object.values(variants)) for (let i = 0; i < Math.min(50, n); i++) await run(i); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(variants)) {
      const t = process.cpuUsage();
      for (let i = 0; i < n; i++) await run(round * n + i);
      const d = process.cpuUsage(t);
      totals[name]! += d.user + d.system;
    }
  }
  const perOp = Object.fromEntries(Object.entries(totals).map(([k, us]) => [k, us / (ROUNDS * n)]));
  log(`\n${title}`);
  for (const [k, us] of Object.entries(perOp)) log(`  ${us.toFixed(0).padStart(6)} µs CPU  ${k}`);
  return perOp;
}

async function main() {
  const iso = newIsolation();
  const env = { ...testEnv(iso, 'http://localhost:1'), NODE_ENV: 'production' };
  const stores = await openStores(loadConfig(env), createLogger('silent'), iso.schema);
  const plain = new Redis(TEST_REDIS_URL);
  const piped = new Redis(TEST_REDIS_URL, { enableAutoPipelining: true });
  try {
    const account = await stores.accounts.create({ email: 'micro@example.com', passwordHash: 'x' });
    const factor = await stores.factors.createPendingTotp(account.id, 'Phone', 'JBSWY3DPEHPK3PXP');
    const db = stores.db;
    const event = (i: number) => ({ type: 'login.totp' as const, outcome: 'success' as const, subject: account.id, clientId: 'rp', ip: '127.0.0.1', userAgent: 'micro', requestId: `r${i}`, details: { factor: 'totp', i } });
    const row = (i: number) => {
      const e = event(i);
      return [e.type, e.outcome, e.subject, e.clientId, e.ip, e.userAgent, e.requestId, JSON.stringify(e.details)];
    };
    const INSERT = 'insert into audit_events (type, outcome, subject, client_id, ip, user_agent, request_id, details) values (?, ?, ?, ?, ?, ?, ?, ?)';

    await compare('Audit: one event (the repository, knex query builder) vs the same row as prepared SQL', 600, {
      'repository append (knex builder)': (i) => stores.audit.record(event(i)),
      'raw insert (db.raw)': (i) => db.raw(INSERT, row(i)),
    });

    let step = 10;
    await compare('Audit with the change it records: TOTP step claim then its event (2 statements) vs one statement (CTE)', 600, {
      'claimTotpStep + append: 2 statements': async (i) => {
        await stores.factors.claimTotpStep(factor.id, account.id, ++step);
        await db.raw(INSERT, row(i));
      },
      'update … returning, insert … select: 1 statement': (i) =>
        db.raw(
          `with claimed as (update factors set last_used_step = ?, last_used_at = now() where id = ? and account_id = ? and (last_used_step is null or last_used_step < ?) returning id)
           insert into audit_events (type, outcome, subject, client_id, ip, user_agent, request_id, details) select ?, ?, ?, ?, ?, ?, ?, ? from claimed`,
          [++step, factor.id, account.id, step, ...row(i)],
        ),
    });

    await compare('Audit, three events of one request: three inserts vs one multi-row insert', 300, {
      '3 inserts': async (i) => {
        for (let k = 0; k < 3; k++) await db.raw(INSERT, row(i * 3 + k));
      },
      '1 insert of 3 rows': (i) => db('audit_events').insert([0, 1, 2].map((k) => ({ type: 'login.totp', outcome: 'success', subject: account.id, request_id: `r${i * 3 + k}`, details: '{}' }))),
    });

    const key = `${iso.redisPrefix}micro`;
    await plain.set(key, JSON.stringify({ accountId: account.id, startedAt: 1, events: [] }));
    await compare('Redis: one GET alone (sequential), without and with auto-pipelining', 2000, {
      'GET, plain client': () => plain.get(key),
      'GET, enableAutoPipelining': () => piped.get(key),
    });
    await compare('Redis: three GETs issued together (as introspection looks a token up), without and with auto-pipelining', 1000, {
      '3 GETs, plain client': () => Promise.all([plain.get(key), plain.get(key), plain.get(key)]),
      '3 GETs, enableAutoPipelining': () => Promise.all([piped.get(key), piped.get(key), piped.get(key)]),
    });

    // the token endpoints under the bench's load: 8 connections, each request a chain of sequential commands
    const chains = (client: Redis) => Promise.all(Array.from({ length: 8 }, async () => {
      for (let k = 0; k < 6; k++) await client.get(key);
    }));
    const perCommand = await compare('Redis: 8 concurrent chains of 6 sequential GETs (8 connections doing a refresh each), per chain of 48 GETs', 200, {
      '8×6 GETs, plain client': () => chains(plain),
      '8×6 GETs, enableAutoPipelining': () => chains(piped),
    });
    void perCommand;

    const views = createViews();
    const context = { title: 'Sign in', csrf: 'x'.repeat(43), uid: 'u'.repeat(21), email: 'a@example.com', error: undefined, passkey: { options: '{}' } };
    await compare('Templates: the sign-in page rendered from nunjucks’ cache (FileSystemLoader caches compiled templates)', 2000, {
      'render login.njk': () => views.render('login.njk', context),
    });

    const record = JSON.stringify({ accountId: account.id, acr: 'aal2', amr: ['pwd', 'otp'], authTime: 1, claims: {}, grantId: 'g'.repeat(43), iat: 1, exp: 2, jti: 'j'.repeat(43), kind: 'RefreshToken', scope: 'openid email profile offline_access', sessionUid: 's'.repeat(21), expiresWithSession: true, clientId: 'bench-rp', gty: 'authorization_code' });
    await compare('JSON: one stored token record parsed (what the adapter does per read)', 20000, {
      'JSON.parse of a refresh token record': () => JSON.parse(record),
    });
  } finally {
    plain.disconnect();
    piped.disconnect();
    await stores.close();
    await dropIsolation(iso);
  }
}

await main();
