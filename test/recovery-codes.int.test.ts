import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashRecoveryCode, newRecoveryCodes } from '../src/factors/recovery-codes/recovery-codes.js';
import { Browser, findForm, type Page } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, passwordLogin, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/** Recovery codes (SPEC §3): single-use, hashed, audited, the user told how many remain; aal2 only. */
const iso = newIsolation();
let server: RunningServer;
let config: oidc.Configuration;

beforeAll(async () => {
  server = await startServer(iso);
  const rp = await createConfidentialClient(server.app);
  config = await discover(server.issuer, rp.clientId, rp.clientSecret);
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

async function userWithCodes() {
  const user = await createUser(server.app);
  await enrollTotp(server.app, user.id);
  const codes = newRecoveryCodes();
  await server.app.stores.recoveryCodes.replace(user.id, codes.map(hashRecoveryCode));
  return { user, codes };
}

/** A signed-in (aal1) browser sitting on the recovery-code page of an aal2 step-up. */
async function atRecoveryPage(email: string, password: string) {
  const browser = new Browser(server.issuer);
  await passwordLogin(browser, await startAuthorization(config), email, password);
  const started = await startAuthorization(config, { acr_values: 'aal2' });
  const totpPage = await browser.follow(started.url.toString());
  expect(totpPage.html).toContain('Use a recovery code instead');
  const page = await browser.submit(totpPage, `/interaction/${/\/interaction\/([^/"]+)\/totp/.exec(totpPage.html)![1]}`, { use: 'recovery_code' });
  expect(page.html).toContain('autocomplete="one-time-code"');
  expect(page.html).toMatch(/<label for="recovery-code">Recovery code<\/label>/);
  return { browser, started, page };
}

const useCode = (browser: Browser, page: Page, code: string) => browser.submit(page, '/recovery', { code });

describe('recovery codes', () => {
  it('a code lifts a password session to aal2 (amr otp), the user is told how many remain, and it is audited', async () => {
    const { user, codes } = await userWithCodes();
    const { browser, started, page } = await atRecoveryPage(user.email, user.password);
    const used = await useCode(browser, page, codes[0]!.toUpperCase().replace(/-/g, ' '));
    expect(used.status).toBe(200);
    expect(used.html).toMatch(/9 recovery codes left/);
    const cb = await browser.submit(used, `/interaction/${new URL(used.url).pathname.split('/')[2]}`);
    expect(isCallback(cb)).toBe(true);
    const claims = (await finish(config, started, cb.url)).claims()!;
    expect(claims.acr).toBe('aal2');
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
    const audit = await server.app.stores.audit.list({ subject: user.id, type: 'login.recovery_code' });
    expect(audit[0]).toMatchObject({ outcome: 'success', details: { remaining: 9 } });
  });

  it('a code works once', async () => {
    const { user, codes } = await userWithCodes();
    const first = await atRecoveryPage(user.email, user.password);
    expect((await useCode(first.browser, first.page, codes[1]!)).status).toBe(200);
    const second = await atRecoveryPage(user.email, user.password);
    const again = await useCode(second.browser, second.page, codes[1]!);
    expect(again.status).toBe(401);
    expect(again.html).toContain('not valid or was already used');
  });

  it('20 parallel uses of one code: exactly one succeeds', async () => {
    const { user, codes } = await userWithCodes();
    const pages = await Promise.all(Array.from({ length: 20 }, () => atRecoveryPage(user.email, user.password)));
    const results = await Promise.all(
      pages.map(({ browser, page }) => {
        const f = findForm(page.html, '/recovery');
        return browser.request(f.action, { method: 'POST', body: new URLSearchParams({ ...f.hidden, code: codes[2]! }) });
      }),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    // the losers are refused: wrong code (401), or already locked out by the failures racing beside them (429)
    expect(results.filter((r) => r.status === 401 || r.status === 429)).toHaveLength(19);
    expect(await server.app.stores.recoveryCodes.remaining(user.id)).toBe(9);
  });

  it('codes are stored hashed, never in clear', async () => {
    const { user, codes } = await userWithCodes();
    const rows = (await server.app.stores.db('recovery_codes').where({ account_id: user.id }).select('code_hash')) as Array<{ code_hash: string }>;
    expect(rows).toHaveLength(10);
    const stored = rows.map((r) => r.code_hash).join(' ');
    for (const c of codes) expect(stored).not.toContain(c.replace(/-/g, ''));
  });

  it('malformed codes are refused like wrong ones', async () => {
    const { user } = await userWithCodes();
    const { browser, page } = await atRecoveryPage(user.email, user.password);
    for (const bad of ['', 'x'.repeat(60), '\u0000abc']) expect((await useCode(browser, page, bad)).status).toBe(401);
  });
});

describe('recovery code lockout', () => {
  it('locks after repeated wrong codes, even for a valid one', async () => {
    const { user, codes } = await userWithCodes();
    const { browser, page } = await atRecoveryPage(user.email, user.password);
    const statuses: number[] = [];
    let last = page;
    for (let i = 0; i < 7; i++) {
      last = await useCode(browser, last, 'aaaa-bbbb-cccc-dddd');
      statuses.push(last.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
    const locked = await useCode(browser, last, codes[0]!);
    expect(locked.status).toBe(429);
    expect(locked.html).toContain('Too many attempts');
    expect(await server.app.stores.recoveryCodes.remaining(user.id)).toBe(10); // the valid code was not spent
  });
});
