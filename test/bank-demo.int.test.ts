import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { totpCodeAt } from '../src/factors/totp/totp.js';
import { launchChromium } from './support/chromium.js';
import { freePort, ROOT } from './support/process.js';

/**
 * Issue #21: the Demo Bank run the way a newcomer runs it, `npm run demo` on the embedded default (no
 * DATABASE_URL, no REDIS_URL, a data directory of its own), driven end to end in Chromium: password
 * sign-in, a payment the API refuses with an RFC 9470 challenge, the second-factor page, the payment
 * retried with the form's data intact and acr=aal2 on the page; then a passkey added on stepup's
 * /account (CDP virtual authenticator) and "change payout account" asking for it (phr).
 */
jest.setTimeout(180_000);

let demo: ChildProcess;
let output = '';
let dataDir: string;
let webUrl: string;
let issuer: string;
let chromium: Browser;

async function waitFor(what: RegExp, ms: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = output.match(what);
    if (m) return m;
    if (demo.exitCode !== null) throw new Error(`npm run demo exited (${demo.exitCode}):\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm run demo did not print ${what}:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'stepup-bank-demo-'));
  const [port, bankPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  webUrl = `http://localhost:${bankPort}`;
  issuer = `http://localhost:${port}`;
  // the one command, through npm as a user types it; its own process group, so the server under npm stops with it
  demo = spawn('npm', ['run', '--silent', 'demo'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), PORT: String(port), BANK_PORT: String(bankPort), BANK_API_PORT: String(apiPort), DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  demo.stdout!.on('data', (d) => (output += d));
  demo.stderr!.on('data', (d) => (output += d));
  await waitFor(/Demo Bank is running/, 120_000);
  chromium = await launchChromium();
}, 150_000);

afterAll(async () => {
  await chromium?.close();
  if (demo?.pid && demo.exitCode === null) {
    const exited = new Promise((r) => demo.once('exit', r));
    process.kill(-demo.pid, 'SIGTERM');
    await exited;
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const acrShown = (page: Page, token: 'id-token' | 'access-token') => page.locator(`[data-token="${token}"] [data-claim="acr"]`).textContent();

describe('npm run demo (Demo Bank)', () => {
  it('refuses a form posted without its CSRF token', async () => {
    for (const path of ['/payments', '/payout', '/login', '/logout']) {
      const res = await fetch(`${webUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'to=Mallory&amount=999&iban=x', redirect: 'manual' });
      expect([path, res.status]).toEqual([path, 403]);
    }
  });

  it('prints the URL to open and the demo user’s credentials on first start', () => {
    expect(output).toContain(`Open:               ${webUrl}`);
    expect(output).toMatch(/Demo user: +demo@example\.com/);
    expect(output).toMatch(/Password: +\S{8,}/);
    expect(output).toContain('first start');
  });

  it('signs in, steps up for a payment (RFC 9470) keeping the form, then asks for a passkey to change the payout account', async () => {
    const password = output.match(/Password: +(\S+)/)![1]!;
    const state = JSON.parse(readFileSync(join(dataDir, 'bank-demo.json'), 'utf8')) as { totpSecret: string };
    const context = await chromium.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    try {
      // sign in with the password: aal1 is enough for the balance
      await page.goto(webUrl);
      const cookieBefore = (await context.cookies(webUrl)).find((c) => c.name === 'bank_session')?.value;
      await page.getByRole('button', { name: 'Sign in with stepup' }).click();
      await page.getByLabel('Email').fill('demo@example.com');
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.locator('[data-balance]').waitFor();
      expect(await page.locator('[data-balance]').textContent()).toBe('1250.00 EUR');
      expect(await acrShown(page, 'id-token')).toBe('acr=aal1');
      // the app's session id changes at sign-in (no fixation) and stays HttpOnly
      const cookie = (await context.cookies(webUrl)).find((c) => c.name === 'bank_session')!;
      expect(cookie.value).not.toBe(cookieBefore);
      expect(cookie.httpOnly).toBe(true);
      expect(await acrShown(page, 'access-token')).toBe('acr=aal1');
      expect(await page.locator('[data-token="id-token"] .words').textContent()).toMatch(/^Signed in with password, just now; level: one factor/);

      // a payment: the API answers 401 insufficient_user_authentication (aal2, max_age=300), the app sends us to stepup
      await page.getByRole('navigation').getByRole('link', { name: 'Send a payment' }).click();
      await page.getByLabel('Recipient').fill('Alice Example');
      await page.getByLabel('Amount (EUR)').fill('25.50');
      await page.getByLabel('Reference').fill('Rent <March>');
      await page.getByRole('button', { name: 'Send the payment' }).click();
      // only the missing step: the second-factor page, not the password again
      await page.getByLabel('Code from your authenticator app').waitFor();
      const stepUpUrl = new URL(page.url());
      expect(stepUpUrl.origin).toBe(issuer);
      await page.getByLabel('Code from your authenticator app').fill(await totpCodeAt(state.totpSecret, Math.floor(Date.now() / 1000)));
      await page.getByRole('button', { name: 'Verify code' }).click();

      // back at the bank: the same payment retried and done, with what was typed
      await page.getByRole('status').waitFor();
      expect(new URL(page.url()).origin).toBe(webUrl);
      expect(await page.getByRole('status').textContent()).toBe('Payment sent: 25.50 EUR to Alice Example (reference: Rent <March>). New balance: 1224.50 EUR.');
      expect(await page.locator('[data-balance]').textContent()).toBe('1224.50 EUR');
      expect(await acrShown(page, 'access-token')).toBe('acr=aal2');
      expect(await acrShown(page, 'id-token')).toBe('acr=aal2');
      expect(await page.locator('[data-token="access-token"] .words').textContent()).toMatch(/^Signed in with password and one-time code, just now; level: two factors/);

      // change payout account without a passkey: stepup cannot reach phr, the app says so and keeps the entry
      await page.getByRole('navigation').getByRole('link', { name: 'Change payout account' }).click();
      await page.getByLabel('New payout account (IBAN)').fill('GB82 WEST 1234 5698 7654 32');
      await page.getByRole('button', { name: 'Change the payout account' }).click();
      await page.locator('[data-page="held"]').waitFor();
      expect(await page.locator('main').textContent()).toContain('GB82 WEST 1234 5698 7654 32');

      // add a passkey on stepup's account page (fresh aal2 from the payment step-up), with a virtual authenticator
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable', { enableUI: false });
      await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
      await page.goto(`${issuer}/account/keys/new?kind=passkey`);
      if (await page.getByLabel('Code from your authenticator app').isVisible().catch(() => false)) {
        await page.getByLabel('Code from your authenticator app').fill(await totpCodeAt(state.totpSecret, Math.floor(Date.now() / 1000) + 30));
        await page.getByRole('button', { name: 'Verify code' }).click();
      }
      await page.getByRole('heading', { name: 'Add a passkey' }).waitFor();
      await page.getByLabel('Name (so you can recognise it later)').fill('Demo laptop');
      await page.getByRole('button', { name: 'Create the passkey' }).click();
      await page.getByRole('heading', { name: /Save your recovery codes|Your account/ }).waitFor();
      const saved = page.getByRole('button', { name: 'I have saved my recovery codes' });
      if (await saved.isVisible().catch(() => false)) await saved.click();
      await page.getByRole('heading', { name: 'Your account' }).waitFor();

      // try again: the API asks for phr, stepup asks for the passkey, the virtual authenticator answers
      await page.goto(`${webUrl}/payout`);
      await page.getByLabel('New payout account (IBAN)').fill('GB82 WEST 1234 5698 7654 32');
      await page.getByRole('button', { name: 'Change the payout account' }).click();
      // stepup's passkey page (phr can only be a WebAuthn assertion); the user taps "Use your passkey"
      const usePasskey = page.getByRole('button', { name: 'Use your passkey' });
      await usePasskey.waitFor();
      expect(new URL(page.url()).origin).toBe(issuer);
      await usePasskey.click();
      await page.getByRole('status').waitFor();
      expect(await page.getByRole('status').textContent()).toBe('Payout account changed to GB82 WEST 1234 5698 7654 32.');
      expect(await page.locator('[data-payout]').textContent()).toBe('GB82 WEST 1234 5698 7654 32');
      expect(await acrShown(page, 'access-token')).toBe('acr=phr');
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
