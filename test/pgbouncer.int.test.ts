import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import knexFactory from 'knex';
import * as oidc from 'openid-client';
import pg from 'pg';
import { migrationSource } from '../migrations/index.js';
import { rotateSigningKeys } from '../src/oidc/signing-keys.js';
import { adminApiToken, api } from './support/admin.js';
import { Browser, findForm, type Page } from './support/browser.js';
import { startDisposablePgBouncer, type DisposablePgBouncer } from './support/disposable-stores.js';
import { newIsolation, TEST_DATABASE_URL } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { enrollTotpInStepUp, stepOf } from './support/steps.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/**
 * Issue #18: Postgres behind PgBouncer in transaction mode. Each transaction (or statement outside
 * one) may land on another server connection, so stepup keeps no session state across statements (no
 * SET, no session advisory lock, no named prepared statement). Two instances start at the same moment
 * on an empty database through the pooler: the migrations run once, and both serve sign-in, step-up,
 * enrollment and the admin API through it.
 */
const iso = newIsolation();
const database = `stepup_pgbouncer_${randomBytes(4).toString('hex')}`;
const target = new URL(TEST_DATABASE_URL);
const admin = knexFactory({ client: 'pg', connection: TEST_DATABASE_URL, pool: { min: 0, max: 1 } });
let bouncer: DisposablePgBouncer;
let servers: RunningServer[] = [];
let config: oidc.Configuration;

beforeAll(async () => {
  await admin.raw('CREATE DATABASE ??', [database]);
  bouncer = await startDisposablePgBouncer({ host: target.hostname, port: Number(target.port || 5432), database, user: decodeURIComponent(target.username) || 'postgres' });
  // two instances at the same moment on the empty database; no schema of the run's own (a database instead)
  servers = await Promise.all([0, 1].map(() => startServer(iso, { DATABASE_URL: bouncer.url }, { schema: null })));
  const rp = await createConfidentialClient(servers[0]!.app);
  config = await discover(servers[0]!.issuer, rp.clientId, rp.clientSecret);
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await bouncer?.dispose();
  await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [database]);
  await admin.destroy();
});

/** The same path on instance A or B. */
const on = (i: number, path: string) => `${servers[i % 2]!.issuer}${new URL(path, servers[0]!.issuer).pathname}${new URL(path, servers[0]!.issuer).search}`;
const isTotpPage = (p: Page) => stepOf(p) === 'totp';
const now = () => Math.floor(Date.now() / 1000);

describe('two instances starting together on an empty database, through PgBouncer', () => {
  it('migrated it once: every migration recorded once, the lock free', async () => {
    const direct = new pg.Client({ connectionString: Object.assign(new URL(TEST_DATABASE_URL), { pathname: `/${database}` }).toString() });
    await direct.connect();
    try {
      const { rows } = await direct.query<{ name: string; n: string }>('SELECT name, count(*) AS n FROM knex_migrations GROUP BY name');
      const expected = (await migrationSource.getMigrations([])).map((m) => migrationSource.getMigrationName(m));
      expect(rows.map((r) => r.name).sort()).toEqual([...expected].sort());
      expect(rows.every((r) => r.n === '1')).toBe(true);
      expect((await direct.query('SELECT is_locked FROM knex_migrations_lock')).rows).toEqual([{ is_locked: 0 }]);
    } finally {
      await direct.end();
    }
  });

  it('both serve: /readyz answers ready at each', async () => {
    for (const s of servers) expect((await fetch(`${s.issuer}/readyz`)).status).toBe(200);
  });
});

describe('the flows through PgBouncer in transaction mode', () => {
  it('(control) the pooler really moves one client between server connections, so session state would be lost', async () => {
    const [a, b] = [new pg.Client({ connectionString: bouncer.url }), new pg.Client({ connectionString: bouncer.url })];
    await Promise.all([a.connect(), b.connect()]);
    try {
      const pid = async (c: pg.Client) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const first = await pid(a);
      await b.query('BEGIN');
      const held = await pid(b); // B's open transaction keeps a server connection…
      const second = await pid(a); // …so A's next statement runs on another one
      await b.query('COMMIT');
      expect(second).not.toBe(held);
      expect(new Set([first, held, second]).size).toBeGreaterThan(1);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('sign-in with password and TOTP begun at A, finished at B: aal2', async () => {
    const app = servers[0]!.app;
    const user = await createUser(app);
    const totp = await enrollTotp(app, user.id);
    const browser = new Browser(servers[0]!.issuer);
    const started = await startAuthorization(config, { acr_values: 'aal2' });
    const login = await browser.follow(started.url.toString());
    const codePage = await browser.submit(login, '/password', { email: user.email, password: user.password });
    expect(isTotpPage(codePage)).toBe(true);
    const form = findForm(codePage.html, '/totp');
    // the code is sent to instance B although the sign-in began on A
    const answer = await browser.request(on(1, form.action), { method: 'POST', body: new URLSearchParams({ ...form.hidden, code: await totp.code() }) });
    expect(answer.status).toBe(303);
    const callback = await browser.follow(new URL(answer.headers.get('location')!, servers[0]!.issuer).toString());
    expect(isCallback(callback)).toBe(true);
    expect((await finish(config, started, callback.url)).claims()?.acr).toBe('aal2');
  });

  it('step-up of a signed-in aal1 session to aal2; the used TOTP step is refused afterwards (Postgres)', async () => {
    const app = servers[1]!.app;
    const user = await createUser(app);
    const totp = await enrollTotp(app, user.id);
    const browser = new Browser(servers[0]!.issuer);
    const first = await startAuthorization(config, { acr_values: 'aal1' });
    const signedIn = await browser.submit(await browser.follow(first.url.toString()), '/password', { email: user.email, password: user.password });
    expect((await finish(config, first, signedIn.url)).claims()?.acr).toBe('aal1');
    const started = await startAuthorization(config, { acr_values: 'aal2' });
    const codePage = await browser.follow(started.url.toString());
    expect(isTotpPage(codePage)).toBe(true);
    const code = await totp.code();
    const done = await browser.submit(codePage, '/totp', { code });
    expect((await finish(config, started, done.url)).claims()?.acr).toBe('aal2');
    // RFC 6238 §5.2: the step is accepted once (claimed by a conditional UPDATE in one transaction)
    const again = await startAuthorization(config, { acr_values: 'aal2', max_age: 0 });
    let page = await browser.follow(again.url.toString());
    if (!isTotpPage(page)) page = await browser.submit(page, '/password', { email: user.email, password: user.password });
    expect((await browser.submit(page, '/totp', { code })).status).toBe(401);
  });

  it('enrollment of TOTP inside a step-up (pending factor, confirmation, recovery codes): aal2', async () => {
    const user = await createUser(servers[0]!.app);
    const browser = new Browser(servers[0]!.issuer);
    const started = await startAuthorization(config, { acr_values: 'aal2' });
    const enroll = await browser.submit(await browser.follow(started.url.toString()), '/password', { email: user.email, password: user.password });
    expect(stepOf(enroll)).toBe('enroll_choice');
    const totpPage = await browser.submit(enroll, '/interaction/', { enroll: 'totp' });
    expect(stepOf(totpPage)).toBe('enroll_totp');
    const { page: codesPage } = await enrollTotpInStepUp(browser, totpPage, now());
    expect([...codesPage.html.matchAll(/<li><code>([0-9a-z-]+)<\/code><\/li>/g)]).toHaveLength(10);
    const cb = await browser.submit(codesPage, `/interaction/${new URL(codesPage.url).pathname.split('/')[2]}`);
    expect((await finish(config, started, cb.url)).claims()?.acr).toBe('aal2');
    expect((await servers[1]!.app.stores.factors.listForAccount(user.id)).map((f) => f.type)).toEqual(['totp']);
  });

  it('the admin API: create, disable and enable a user, with its audit; a signing key rotation (advisory-locked transaction)', async () => {
    const s = servers[1]!;
    const { token } = await adminApiToken(s.app, s.issuer);
    const email = `pgb-${randomBytes(4).toString('hex')}@example.com`;
    const created = await api(s.issuer, token, 'POST', '/users', { email, name: 'Pooled User', password: 'a long enough password' });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    expect((await api(s.issuer, token, 'POST', `/users/${id}/disable`, { reason: 'pooled' })).json).toMatchObject({ disabled: true });
    expect((await api(s.issuer, token, 'POST', `/users/${id}/enable`)).json).toMatchObject({ disabled: false });
    const events = await api(s.issuer, token, 'GET', `/audit-events?subject=${id}&type=admin.*`);
    expect(events.json.items.map((e: { type: string }) => e.type)).toEqual(['admin.user.enable', 'admin.user.disable', 'admin.user.create']);
    // pg_advisory_xact_lock in the rotation's transaction: transaction-scoped, so pooling-safe
    const published = (await s.app.stores.signingKeys.listPublished()).length;
    await rotateSigningKeys(s.app.stores.signingKeys);
    expect((await s.app.stores.signingKeys.listPublished()).length).toBeGreaterThan(published);
  });
});
