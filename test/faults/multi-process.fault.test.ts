import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import { createChallengeStore } from '../../src/store/redis/webauthn-challenges.js';
import { TOTP_PERIOD_SECONDS, totpCodeAt } from '../../src/factors/totp/totp.js';
import { Browser, findForm, type Page } from '../support/browser.js';
import { startDisposablePostgres, startDisposableRedis, type DisposablePostgres, type DisposableRedis } from '../support/disposable-stores.js';
import { freePort, startServerProcess, type ServerProcess } from '../support/process.js';
import { finish, isCallback, RP_REDIRECT, startAuthorization } from '../support/rp.js';
import { discover, faultEnv, seed, type SeededUser } from './harness.js';

/**
 * Issue #7 / SPEC §3: single-use things stay single-use across several stepup processes sharing one
 * Postgres and one Redis. 20 parallel redemptions, alternating between two processes: exactly one wins.
 */
jest.setTimeout(180_000);

const PARALLEL = 20;

let redis: DisposableRedis;
let postgres: DisposablePostgres;
const servers: ServerProcess[] = [];
/** Both processes serve the same issuer; B is reached on its own port. */
let issuer: string;
let origins: string[];
let config: oidc.Configuration;
let client: { clientId: string; clientSecret: string };
let users: SeededUser[];

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startDisposableRedis({ persistence: 'none' }), startDisposablePostgres()]);
  const [portA, portB] = [await freePort(), await freePort()];
  issuer = `http://localhost:${portA}`;
  origins = [issuer, `http://localhost:${portB}`];
  const env = { ...faultEnv(issuer, postgres.url, redis.url), TRUST_PROXY: 'true' };
  const seeded = await seed(env, 4);
  users = seeded.users;
  client = seeded.client;
  servers.push(await startServerProcess(env, portA), await startServerProcess(env, portB));
  config = await discover(issuer, client.clientId, client.clientSecret);
});

/*
 * Every sign-in here comes from 127.0.0.1, and the races fail on purpose (19 losers each): per-IP failure
 * counters would lock the next test out. So the processes trust X-Forwarded-For (TRUST_PROXY, as behind
 * a proxy) and each test signs in from an address of its own.
 */
let testNumber = 0;
let clientIp = '';
beforeEach(() => {
  clientIp = `198.51.100.${++testNumber}`;
});
const newBrowser = () => new Browser(issuer, { 'x-forwarded-for': clientIp });

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await Promise.all([redis?.dispose(), postgres?.dispose()]);
});

/** The same path on process A or B, alternating. */
const on = (i: number, url: string) => {
  const u = new URL(url, issuer);
  return `${origins[i % 2]}${u.pathname}${u.search}`;
};

/** A browser signed in with a password, sitting on the TOTP page of an aal2 request. */
async function atTotpPage(user: SeededUser) {
  const browser = newBrowser();
  const started = await startAuthorization(config, { acr_values: 'aal2' });
  const login = await browser.follow(started.url.toString());
  const page = await browser.submit(login, '/password', { email: user.email, password: user.password });
  expect(page.html).toMatch(/action="\/interaction\/[^"]+\/totp"/);
  return { browser, started, page };
}

/** POSTs the page's form (with its CSRF field) to process A or B. */
function post(i: number, browser: Browser, page: Page, actionPart: string, fields: Record<string, string>) {
  const form = findForm(page.html, actionPart);
  return browser.request(on(i, form.action), { method: 'POST', body: new URLSearchParams({ ...form.hidden, ...fields }) });
}

const tokenRequest = (i: number, body: Record<string, string>) =>
  fetch(on(i, '/token'), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(body),
  });

describe(`${PARALLEL} parallel redemptions across two processes`, () => {
  it('one TOTP code: exactly one sign-in succeeds', async () => {
    const user = users[0]!;
    const pages = await Promise.all(Array.from({ length: PARALLEL }, () => atTotpPage(user)));
    const code = await totpCodeAt(user.secret, Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS) * TOTP_PERIOD_SECONDS);
    const results = await Promise.all(pages.map(({ browser, page }, i) => post(i, browser, page, '/totp', { code })));
    expect(results.filter((r) => r.status === 303)).toHaveLength(1);
    // the others: the code was already used (401), or the account is locked by the failures beside them (429)
    expect(results.filter((r) => r.status === 401 || r.status === 429)).toHaveLength(PARALLEL - 1);
  });

  it('one recovery code: exactly one use succeeds', async () => {
    const user = users[1]!;
    const pages = await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        const { browser, page } = await atTotpPage(user);
        const uid = /\/interaction\/([^/"]+)\/totp/.exec(page.html)![1]!;
        const recovery = await browser.submit(page, `/interaction/${uid}`, { use: 'recovery_code' });
        expect(recovery.html).toMatch(/\/recovery"/);
        return { browser, page: recovery };
      }),
    );
    const results = await Promise.all(pages.map(({ browser, page }, i) => post(i, browser, page, '/recovery', { code: user.recoveryCodes[0]! })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401 || r.status === 429)).toHaveLength(PARALLEL - 1);
  });

  /** A fresh aal2 sign-in through process A; returns the code at the RP callback and its PKCE verifier. */
  async function codeFor(user: SeededUser) {
    const { browser, started, page } = await atTotpPage(user);
    const step = Math.max(user.nextStep, Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS));
    user.nextStep = step + 1;
    const callback = await browser.submit(page, '/totp', { code: await totpCodeAt(user.secret, step * TOTP_PERIOD_SECONDS) });
    expect(isCallback(callback)).toBe(true);
    return { code: new URL(callback.url).searchParams.get('code')!, verifier: started.verifier };
  }
  const exchange = (i: number, c: { code: string; verifier: string }) =>
    tokenRequest(i, { grant_type: 'authorization_code', code: c.code, redirect_uri: RP_REDIRECT, code_verifier: c.verifier });

  it('one authorization code: exactly one token response, and the replays revoke what it issued', async () => {
    const code = await codeFor(users[2]!);
    const exchanges = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => exchange(i, code)));
    const won = exchanges.filter((r) => r.status === 200);
    expect(won).toHaveLength(1);
    const losers = await Promise.all(exchanges.filter((r) => r.status !== 200).map(async (r) => `${r.status} ${((await r.json()) as { error: string }).error}`));
    expect(losers).toEqual(Array(PARALLEL - 1).fill('400 invalid_grant'));
    // RFC 6749 §4.1.2: a code used more than once revokes the tokens issued from it
    const tokens = (await won[0]!.json()) as { refresh_token: string };
    const refresh = await tokenRequest(0, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refresh.status).toBe(400);
  });

  it('one refresh token: exactly one rotation', async () => {
    const tokens = (await (await exchange(0, await codeFor(users[2]!))).json()) as { refresh_token: string };
    expect(tokens.refresh_token).toBeTruthy();
    const refreshes = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) => tokenRequest(i, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token })),
    );
    expect(refreshes.filter((r) => r.status === 200)).toHaveLength(1);
    const losers = await Promise.all(refreshes.filter((r) => r.status !== 200).map(async (r) => `${r.status} ${((await r.json()) as { error: string }).error}`));
    expect(losers).toEqual(Array(PARALLEL - 1).fill('400 invalid_grant'));
  });

  it('the usual sign-in still works through either process (same issuer, shared stores)', async () => {
    const user = users[3]!;
    const { browser, started, page } = await atTotpPage(user);
    const step = Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS);
    const form = findForm(page.html, '/totp');
    // the code is sent to process B although the sign-in began on A
    const answer = await browser.request(on(1, form.action), { method: 'POST', body: new URLSearchParams({ ...form.hidden, code: await totpCodeAt(user.secret, step * TOTP_PERIOD_SECONDS) }) });
    expect(answer.status).toBe(303);
    const callback = await browser.follow(new URL(answer.headers.get('location')!, issuer).toString());
    expect(isCallback(callback)).toBe(true);
    expect((await finish(config, started, callback.url)).claims()?.acr).toBe('aal2');
  });
});

describe('WebAuthn challenges on a shared Redis', () => {
  it('20 parallel takes of one challenge from two connections (two instances): exactly one gets it', async () => {
    const connections = [new Redis(redis.url), new Redis(redis.url)];
    try {
      const stores = connections.map((c) => createChallengeStore(c, 'stepup:'));
      const record = { challenge: 'c'.repeat(43), purpose: 'authenticate' as const, requireUserVerification: true, expiresAt: Math.floor(Date.now() / 1000) + 300 };
      await stores[0]!.put('interaction-1', record, 300);
      const taken = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => stores[i % 2]!.take('interaction-1')));
      expect(taken.filter(Boolean)).toEqual([record]);
    } finally {
      for (const c of connections) c.disconnect();
    }
  });
});

describe('a Redis restart without persistence', () => {
  it('signs everyone out, and nothing else is lost: factors, used TOTP steps and recovery codes are in Postgres', async () => {
    const user = users[1]!; // its first recovery code was spent above
    const signedIn = newBrowser();
    const { started: s1, page } = await (async () => {
      const started = await startAuthorization(config, { acr_values: 'aal2' });
      const login = await signedIn.follow(started.url.toString());
      return { started, page: await signedIn.submit(login, '/password', { email: user.email, password: user.password }) };
    })();
    const step = Math.max(user.nextStep, Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS));
    user.nextStep = step + 1;
    const usedCode = await totpCodeAt(user.secret, step * TOTP_PERIOD_SECONDS);
    const callback = await signedIn.submit(page, '/totp', { code: usedCode });
    expect((await finish(config, s1, callback.url)).claims()?.acr).toBe('aal2');

    await redis.stop();
    await redis.start(); // persistence 'none': an empty Redis

    // the session is gone: the RP's silent request needs a sign-in again (both processes reconnect by themselves)
    const silent = await startAuthorization(config, { acr_values: 'aal2', prompt: 'none' });
    const answer = await signedIn.follow(silent.url.toString());
    expect(new URL(answer.url).searchParams.get('error')).toBe('login_required');

    // signing in again works, with the same factors; the used TOTP step is still refused (Postgres)
    const again = await atTotpPage(user);
    expect((await post(1, again.browser, again.page, '/totp', { code: usedCode })).status).toBe(401);
    const spent = await atTotpPage(user);
    const recovery = await spent.browser.submit(spent.page, `/interaction/${/\/interaction\/([^/"]+)\/totp/.exec(spent.page.html)![1]}`, { use: 'recovery_code' });
    expect((await post(0, spent.browser, recovery, '/recovery', { code: user.recoveryCodes[0]! })).status).toBe(401);
    const fresh = await post(1, spent.browser, recovery, '/recovery', { code: user.recoveryCodes[1]! });
    expect(fresh.status).toBe(200);
    expect(fresh.html).toMatch(/8 recovery codes left/);
  });
});
