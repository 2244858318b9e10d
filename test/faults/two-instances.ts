import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { TOTP_PERIOD_SECONDS, totpCodeAt } from '../../src/factors/totp/totp.js';
import { Browser, findForm, type Page } from '../support/browser.js';
import { startDisposablePostgres, type DisposablePostgres } from '../support/disposable-stores.js';
import { freePort, startServerProcess, type ServerProcess } from '../support/process.js';
import { finish, isCallback, RP_REDIRECT, startAuthorization } from '../support/rp.js';
import { discover, faultEnv, seed, type SeededUser } from './harness.js';

/**
 * Issue #7 / #18 / SPEC §3: two stepup processes sharing one Postgres and one Redis (a single server or
 * a Redis Cluster): single-use things stay single-use across them, and revocations reach them both.
 * 20 parallel redemptions, alternating between the two processes: exactly one wins.
 */
export const PARALLEL = 20;

/** Where the Redis of a run is: the environment naming it (REDIS_URL, REDIS_CLUSTER_NODES…). */
export interface RedisUnderTest {
  env: Record<string, string>;
  dispose(): Promise<void>;
}

export interface TwoInstances {
  issuer: string;
  config: oidc.Configuration;
  client: { clientId: string; clientSecret: string };
  users: SeededUser[];
  env: Record<string, string>;
  servers: ServerProcess[];
  /** a browser signing in from this test's own address (see beforeEach) */
  newBrowser(): Browser;
  /** the same path on process A or B, alternating */
  on(i: number, url: string): string;
  atTotpPage(user: SeededUser): Promise<{ browser: Browser; started: Awaited<ReturnType<typeof startAuthorization>>; page: Page }>;
  post(i: number, browser: Browser, page: Page, actionPart: string, fields: Record<string, string>): Promise<Page>;
  tokenRequest(i: number, body: Record<string, string>, path?: string): Promise<Response>;
}

/** Starts the stores and two stepup processes around the suite (beforeAll/afterAll); fills in the returned object. */
export function twoInstances(startRedis: () => Promise<RedisUnderTest>): TwoInstances {
  let redis: RedisUnderTest | undefined;
  let postgres: DisposablePostgres | undefined;
  let origins: string[] = [];
  let clientIp = '';
  let testNumber = 0;
  const ctx = { servers: [] as ServerProcess[] } as unknown as TwoInstances;

  beforeAll(async () => {
    [redis, postgres] = await Promise.all([startRedis(), startDisposablePostgres()]);
    const [portA, portB] = [await freePort(), await freePort()];
    ctx.issuer = `http://localhost:${portA}`;
    origins = [ctx.issuer, `http://localhost:${portB}`];
    const base = faultEnv(ctx.issuer, postgres.url, '');
    delete base.REDIS_URL;
    ctx.env = { ...base, ...redis.env, TRUST_PROXY: 'true' };
    const seeded = await seed(ctx.env, 4);
    ctx.users = seeded.users;
    ctx.client = seeded.client;
    ctx.servers.push(...(await Promise.all([startServerProcess(ctx.env, portA), startServerProcess(ctx.env, portB)])));
    ctx.config = await discover(ctx.issuer, ctx.client.clientId, ctx.client.clientSecret);
  });

  /*
   * Every sign-in here comes from 127.0.0.1, and the races fail on purpose (19 losers each): per-IP failure
   * counters would lock the next test out. So the processes trust X-Forwarded-For (TRUST_PROXY, as behind
   * a proxy) and each test signs in from an address of its own.
   */
  beforeEach(() => {
    clientIp = `198.51.100.${++testNumber}`;
  });

  afterAll(async () => {
    await Promise.all(ctx.servers.map((s) => s.stop()));
    await Promise.all([redis?.dispose(), postgres?.dispose()]);
  });

  ctx.newBrowser = () => new Browser(ctx.issuer, { 'x-forwarded-for': clientIp });
  ctx.on = (i, url) => {
    const u = new URL(url, ctx.issuer);
    return `${origins[i % 2]}${u.pathname}${u.search}`;
  };
  ctx.atTotpPage = async (user) => {
    const browser = ctx.newBrowser();
    const started = await startAuthorization(ctx.config, { acr_values: 'aal2' });
    const login = await browser.follow(started.url.toString());
    const page = await browser.submit(login, '/password', { email: user.email, password: user.password });
    expect(page.html).toMatch(/action="\/interaction\/[^"]+\/totp"/);
    return { browser, started, page };
  };
  ctx.post = (i, browser, page, actionPart, fields) => {
    const form = findForm(page.html, actionPart);
    return browser.request(ctx.on(i, form.action), { method: 'POST', body: new URLSearchParams({ ...form.hidden, ...fields }) });
  };
  ctx.tokenRequest = (i, body, path = '/token') =>
    fetch(ctx.on(i, path), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${ctx.client.clientId}:${ctx.client.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(body),
    });
  return ctx;
}

/** The checks every two-instance deployment must pass, whatever its Redis. */
export function describeTwoInstanceChecks(ctx: TwoInstances) {
  /** A fresh aal2 sign-in; returns the code at the RP callback and its PKCE verifier. */
  async function codeFor(user: SeededUser) {
    const { browser, started, page } = await ctx.atTotpPage(user);
    const step = Math.max(user.nextStep, Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS));
    user.nextStep = step + 1;
    const callback = await browser.submit(page, '/totp', { code: await totpCodeAt(user.secret, step * TOTP_PERIOD_SECONDS) });
    expect(isCallback(callback)).toBe(true);
    return { code: new URL(callback.url).searchParams.get('code')!, verifier: started.verifier };
  }
  const exchange = (i: number, c: { code: string; verifier: string }) =>
    ctx.tokenRequest(i, { grant_type: 'authorization_code', code: c.code, redirect_uri: RP_REDIRECT, code_verifier: c.verifier });
  const errorsOf = (responses: Response[]) => Promise.all(responses.map(async (r) => `${r.status} ${((await r.json()) as { error: string }).error}`));

  describe(`${PARALLEL} parallel redemptions across two processes`, () => {
    it('one TOTP code: exactly one sign-in succeeds', async () => {
      const user = ctx.users[0]!;
      const pages = await Promise.all(Array.from({ length: PARALLEL }, () => ctx.atTotpPage(user)));
      const code = await totpCodeAt(user.secret, Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS) * TOTP_PERIOD_SECONDS);
      const results = await Promise.all(pages.map(({ browser, page }, i) => ctx.post(i, browser, page, '/totp', { code })));
      expect(results.filter((r) => r.status === 303)).toHaveLength(1);
      // the others: the code was already used (401), or the account is locked by the failures beside them (429)
      expect(results.filter((r) => r.status === 401 || r.status === 429)).toHaveLength(PARALLEL - 1);
    });

    it('one recovery code: exactly one use succeeds', async () => {
      const user = ctx.users[1]!;
      const pages = await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          const { browser, page } = await ctx.atTotpPage(user);
          const uid = /\/interaction\/([^/"]+)\/totp/.exec(page.html)![1]!;
          const recovery = await browser.submit(page, `/interaction/${uid}`, { use: 'recovery_code' });
          expect(recovery.html).toMatch(/\/recovery"/);
          return { browser, page: recovery };
        }),
      );
      const results = await Promise.all(pages.map(({ browser, page }, i) => ctx.post(i, browser, page, '/recovery', { code: user.recoveryCodes[0]! })));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 401 || r.status === 429)).toHaveLength(PARALLEL - 1);
      user.recoveryCodesUsed = 1;
    });

    it('one authorization code: exactly one token response, and the replays revoke what it issued', async () => {
      const code = await codeFor(ctx.users[2]!);
      const exchanges = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => exchange(i, code)));
      const won = exchanges.filter((r) => r.status === 200);
      expect(won).toHaveLength(1);
      expect(await errorsOf(exchanges.filter((r) => r.status !== 200))).toEqual(Array(PARALLEL - 1).fill('400 invalid_grant'));
      // RFC 6749 §4.1.2: a code used more than once revokes the tokens issued from it
      const tokens = (await won[0]!.json()) as { refresh_token: string };
      const refresh = await ctx.tokenRequest(0, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
      expect(refresh.status).toBe(400);
    });

    it('one refresh token: exactly one rotation', async () => {
      const tokens = (await (await exchange(0, await codeFor(ctx.users[2]!))).json()) as { refresh_token: string };
      expect(tokens.refresh_token).toBeTruthy();
      const refreshes = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => ctx.tokenRequest(i, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token })));
      expect(refreshes.filter((r) => r.status === 200)).toHaveLength(1);
      expect(await errorsOf(refreshes.filter((r) => r.status !== 200))).toEqual(Array(PARALLEL - 1).fill('400 invalid_grant'));
    });

    it('the usual sign-in still works through either process (same issuer, shared stores)', async () => {
      const user = ctx.users[3]!;
      const { browser, started, page } = await ctx.atTotpPage(user);
      const step = Math.max(user.nextStep, Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS));
      user.nextStep = step + 1;
      const form = findForm(page.html, '/totp');
      // the code is sent to process B although the sign-in began on A
      const answer = await browser.request(ctx.on(1, form.action), { method: 'POST', body: new URLSearchParams({ ...form.hidden, code: await totpCodeAt(user.secret, step * TOTP_PERIOD_SECONDS) }) });
      expect(answer.status).toBe(303);
      const callback = await browser.follow(new URL(answer.headers.get('location')!, ctx.issuer).toString());
      expect(isCallback(callback)).toBe(true);
      expect((await finish(ctx.config, started, callback.url)).claims()?.acr).toBe('aal2');
    });
  });

  describe('a grant revocation reaches every token, at both processes', () => {
    /** Is the access token still accepted? Asked at userinfo and introspection of process i. */
    async function accessTokenWorks(i: number, accessToken: string): Promise<boolean> {
      const userinfo = await fetch(ctx.on(i, '/me'), { headers: { authorization: `Bearer ${accessToken}` } });
      const introspection = (await (await ctx.tokenRequest(i, { token: accessToken }, '/token/introspection')).json()) as { active: boolean };
      expect(userinfo.status === 200).toBe(introspection.active);
      return introspection.active;
    }

    it('the refresh token revoked at B: the access token and refresh tokens of its grant are refused at A and B', async () => {
      const first = (await (await exchange(0, await codeFor(ctx.users[3]!))).json()) as { access_token: string; refresh_token: string };
      // a rotation at B: the grant now has two access tokens and a rotated refresh token
      const rotated = (await (await ctx.tokenRequest(1, { grant_type: 'refresh_token', refresh_token: first.refresh_token })).json()) as { access_token: string; refresh_token: string };
      for (const i of [0, 1]) {
        expect(await accessTokenWorks(i, first.access_token)).toBe(true);
        expect(await accessTokenWorks(i, rotated.access_token)).toBe(true);
      }
      // RFC 7009 §2.1: revoking a refresh token revokes its grant (oidc-provider's default revokeGrantPolicy)
      expect((await ctx.tokenRequest(1, { token: rotated.refresh_token, token_type_hint: 'refresh_token' }, '/token/revocation')).status).toBe(200);
      for (const i of [0, 1]) {
        expect(await accessTokenWorks(i, first.access_token)).toBe(false);
        expect(await accessTokenWorks(i, rotated.access_token)).toBe(false);
        expect((await ctx.tokenRequest(i, { grant_type: 'refresh_token', refresh_token: rotated.refresh_token })).status).toBe(400);
      }
    });
  });
}
