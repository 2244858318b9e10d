/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser as Chromium, Page } from 'playwright-core';
import * as oidc from 'openid-client';
import { callbackUrl, launchChromium } from './support/chromium.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { createConfidentialClient, createUser, discover, finish, RP_REDIRECT, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/** A real browser (Debian Chromium) through sign-in and a TOTP step-up, with the CSP in force. */
const iso = newIsolation();
let server: RunningServer;
let chromium: Chromium;
let config: oidc.Configuration;

beforeAll(async () => {
  server = await startServer(iso);
  const rp = await createConfidentialClient(server.app, { clientName: 'Payroll <script>' });
  config = await discover(server.issuer, rp.clientId, rp.clientSecret);
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await dropIsolation(iso);
});

describe('sign-in and step-up in Chromium', () => {
  it('signs in with a password, then steps up with TOTP; the RP gets aal2', async () => {
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const context = await chromium.newContext();
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });

    const first = await startAuthorization(config);
    await page.goto(first.url.toString());
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    expect(await page.getByText('Payroll <script>').count()).toBe(1); // escaped, shown as text
    const stylesApplied = await page.evaluate(() => getComputedStyle(document.querySelector('button')!).borderRadius);
    expect(stylesApplied).toBe('6px'); // the stylesheet loaded under the CSP
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/login.png` });
    const cb1 = await callbackUrl(page, () => page.getByRole('button', { name: 'Sign in' }).click());
    expect((await finish(config, first, cb1)).claims()!.acr).toBe('aal1');

    const second = await startAuthorization(config, { acr_values: 'aal2' });
    await page.goto(second.url.toString());
    await page.locator('main[data-step="totp"]').waitFor();
    await expect(page.getByText('asks for a second step').isVisible()).resolves.toBe(true);
    expect(await page.getByLabel('Password').count()).toBe(0);
    if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/totp.png` });
    await page.getByLabel('Code from your authenticator app').fill(await totp.code());
    const cb2 = await callbackUrl(page, () => page.getByRole('button', { name: 'Verify code' }).click());
    const claims = (await finish(config, second, cb2)).claims()!;
    expect(claims.acr).toBe('aal2');
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
    expect(violations).toEqual([]);
    await context.close();
  });

  it('self-enrolls an authenticator app during a step-up', async () => {
    const user = await createUser(server.app);
    const context = await chromium.newContext();
    const page = await context.newPage();
    const started = await startAuthorization(config, { acr_values: 'aal2' });
    await page.goto(started.url.toString());
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // a choice of first second factor (issue #13): an authenticator app here
    await page.locator('main[data-step="enroll_choice"]').waitFor();
    await page.getByRole('button', { name: 'An authenticator app' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    const qrLoaded = await page.evaluate(() => (document.querySelector('img.qr') as HTMLImageElement).naturalWidth > 0);
    expect(qrLoaded).toBe(true);
    if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/enroll.png` });
    const key = (await page.locator('#manual-key').textContent())!.replace(/\s/g, '');
    const { totpCodeAt } = await import('../src/factors/totp/totp.js');
    await page.getByLabel('Code from your authenticator app').fill(await totpCodeAt(key, Math.floor(Date.now() / 1000)));
    await page.getByRole('button', { name: 'Add authenticator app' }).click();
    await expect(page.locator('#recovery-codes li').count()).resolves.toBe(10);
    if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/codes.png` });
    const cb = await callbackUrl(page, () => page.getByRole('button', { name: 'I have saved my recovery codes' }).click());
    expect((await finish(config, started, cb)).claims()!.acr).toBe('aal2');
    await context.close();
  });
});
