import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Browser, type Page } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { ROOT } from './support/process.js';
import { createConfidentialClient, createUser } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/**
 * Issue #14: an express-openid-connect app with its defaults (RS256 ID tokens, PKCE, scope
 * `openid profile email`; only `response_type=code` set, as stepup serves the code flow only) signs
 * in against stepup and steps up to aal2. Before the issue it failed at the callback with
 * OAUTH_INVALID_RESPONSE: stepup signed every ID token with ES256. The RP runs as its own process
 * (test/support/express-oidc-rp.mjs says why).
 */
const iso = newIsolation();
let server: RunningServer;
let rpBase: string;
jest.setTimeout(60_000);

/** Starts the express-openid-connect RP for a client; it picks its own port and says which. */
async function startRp(clientId: string, clientSecret: string, port: (p: number) => Promise<void>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['test/support/express-oidc-rp.mjs'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ISSUER: server.issuer, CLIENT_ID: clientId, CLIENT_SECRET: clientSecret, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) port(Number(m[1])).then(resolve, reject);
    });
    child.stderr!.on('data', (d) => (out += d));
    child.on('exit', (code) => reject(new Error(`express RP exited (${code}): ${out}`)));
  });
  return child;
}

const rps: ChildProcess[] = [];

/** An RP process for a new client; the redirect URI names the RP's port, so the client is registered once it listens. */
async function rpFor(clientId: string, extra: Parameters<typeof createConfidentialClient>[1] = {}): Promise<string> {
  const clientSecret = 'x'.repeat(43);
  let base = '';
  rps.push(
    await startRp(clientId, clientSecret, async (port) => {
      base = `http://127.0.0.1:${port}`;
      await createConfidentialClient(server.app, { clientId, clientSecret, redirectUris: [`${base}/callback`], postLogoutRedirectUris: [], ...extra });
    }),
  );
  return base;
}

beforeAll(async () => {
  server = await startServer(iso);
  rpBase = await rpFor('express-rp'); // registered with no algorithm, as most are
});
afterAll(async () => {
  for (const child of rps) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await server?.close();
  await dropIsolation(iso);
});

/** Follows redirects across the RP and stepup, as a browser does (one cookie jar: both are on loopback). */
async function go(browser: Browser, url: string, init?: { method?: string; body?: URLSearchParams }): Promise<Page> {
  let page = await browser.request(url, init);
  for (let hops = 0; hops < 20 && page.status >= 300 && page.status < 400; hops++) page = await browser.request(new URL(page.headers.get('location')!, page.url).toString());
  return page;
}

/** Submits the stepup form whose action contains `actionPart`, then follows wherever it leads. */
async function submit(browser: Browser, page: Page, actionPart: string, fields: Record<string, string>): Promise<Page> {
  const landed = await browser.submit(page, actionPart, fields);
  return landed.status >= 300 ? go(browser, landed.url) : landed.url.startsWith(rpBase) ? go(browser, landed.url) : landed;
}

describe('express-openid-connect with its defaults', () => {
  it('signs in with a password, then steps up to aal2 with a TOTP code; every ID token is RS256', async () => {
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const browser = new Browser(server.issuer);

    const loginPage = await go(browser, `${rpBase}/claims`); // requiresAuth() sends the browser to stepup
    expect(loginPage.url.startsWith(server.issuer)).toBe(true);
    const afterLogin = await submit(browser, loginPage, '/password', { email: user.email, password: user.password });
    expect(afterLogin.url).toBe(`${rpBase}/claims`);
    expect(afterLogin.status).toBe(200);
    expect(JSON.parse(afterLogin.html)).toMatchObject({ sub: user.id, acr: 'aal1', amr: ['pwd'] });

    const codePage = await go(browser, `${rpBase}/step-up`);
    expect(codePage.url.startsWith(server.issuer)).toBe(true);
    expect(codePage.html).not.toContain('autocomplete="current-password"'); // only the missing step
    const afterStepUp = await submit(browser, codePage, '/totp', { code: await totp.code() });
    expect(afterStepUp.url).toBe(`${rpBase}/claims`);
    expect(JSON.parse(afterStepUp.html)).toMatchObject({ sub: user.id, acr: 'aal2', amr: expect.arrayContaining(['pwd', 'otp', 'mfa']) });

    expect(await (await fetch(`${rpBase}/id-token-algs`)).json()).toEqual(['RS256', 'RS256']);
  });

  it('the same app fails at the callback against a client registered for ES256 (what every client got before issue #14)', async () => {
    const base = await rpFor('express-rp-es256', { idTokenSignedResponseAlg: 'ES256' });
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer);
    const loginPage = await go(browser, `${base}/claims`);
    const callback = await browser.submit(loginPage, '/password', { email: user.email, password: user.password });
    expect(callback.url.startsWith(`${base}/callback?`)).toBe(true);
    const refused = await go(browser, callback.url);
    expect(refused.status).toBe(400);
    expect(refused.html).toMatch(/invalid response encountered/);
    expect(await (await fetch(`${base}/id-token-algs`)).json()).toEqual([]);
  });
});
