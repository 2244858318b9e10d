/// <reference lib="dom" />
import { describe, expect, it, jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import { expectAccessible } from './support/a11y.js';
import { callbackUrl } from './support/chromium.js';
import { enrollTotp } from './support/factors.js';
import { createUser, finish, RP_REDIRECT, startAuthorization } from './support/rp.js';
import { useTestbed } from './support/testbed.js';

/** A real browser (Debian Chromium) through sign-in and a TOTP step-up, with the CSP in force. */
// each page state is checked with axe at three layouts (test/support/a11y.ts)
jest.setTimeout(90_000);
const bed = useTestbed({ chromium: true, client: { clientName: 'Payroll <script>' } });

describe('sign-in and step-up in Chromium', () => {
  it('signs in with a password, then steps up with TOTP; the RP gets aal2', async () => {
    const user = await createUser(bed.server.app);
    const totp = await enrollTotp(bed.server.app, user.id);
    const context = await bed.chromium.newContext();
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });

    const first = await startAuthorization(bed.config);
    await page.goto(first.url.toString());
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    expect(await page.getByText('Payroll <script>').count()).toBe(1); // escaped, shown as text
    const stylesApplied = await page.evaluate(() => getComputedStyle(document.querySelector('button')!).borderRadius);
    expect(stylesApplied).toBe('6px'); // the stylesheet loaded under the CSP
    await expectAccessible(page, 'sign-in page');
    // a wrong password first: the refusal, the field to fix, and the page still accessible
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('main[data-step="login"] #step-error').waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
    await expectAccessible(page, 'sign-in page after a wrong password');
    // a keyboard user sees where they are: Tab from the password reaches "Sign in", ringed (:focus-visible)
    await page.keyboard.press('Tab');
    const ring = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const style = getComputedStyle(el);
      return { text: el.textContent, visible: el.matches(':focus-visible'), outline: `${style.outlineStyle} ${style.outlineWidth}` };
    });
    expect(ring).toEqual({ text: 'Sign in', visible: true, outline: 'solid 3px' });
    await page.getByLabel('Password').fill(user.password);
    if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/login.png` });
    const cb1 = await callbackUrl(page, () => page.getByRole('button', { name: 'Sign in' }).click());
    expect((await finish(bed.config, first, cb1)).claims()!.acr).toBe('aal1');

    const second = await startAuthorization(bed.config, { acr_values: 'aal2' });
    await page.goto(second.url.toString());
    await page.locator('main[data-step="totp"]').waitFor();
    await expect(page.getByText('asks for a second step').isVisible()).resolves.toBe(true);
    expect(await page.getByLabel('Password').count()).toBe(0);
    await expectAccessible(page, 'authenticator app step');
    if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/totp.png` });
    await page.getByLabel('Code from your authenticator app').fill(await totp.code());
    const cb2 = await callbackUrl(page, () => page.getByRole('button', { name: 'Verify code' }).click());
    const claims = (await finish(bed.config, second, cb2)).claims()!;
    expect(claims.acr).toBe('aal2');
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
    expect(violations).toEqual([]);
    await context.close();
  });

  it('self-enrolls an authenticator app during a step-up', async () => {
    const user = await createUser(bed.server.app);
    const context = await bed.chromium.newContext();
    const page = await context.newPage();
    const started = await startAuthorization(bed.config, { acr_values: 'aal2' });
    await page.goto(started.url.toString());
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // a choice of first second factor (issue #13): an authenticator app here
    await page.locator('main[data-step="enroll_choice"]').waitFor();
    await expectAccessible(page, 'enrollment choice');
    await page.getByRole('button', { name: 'An authenticator app' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    const qrLoaded = await page.evaluate(() => (document.querySelector('img.qr') as HTMLImageElement).naturalWidth > 0);
    expect(qrLoaded).toBe(true);
    await expectAccessible(page, 'authenticator app enrollment');
    if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/enroll.png` });
    const key = (await page.locator('#manual-key').textContent())!.replace(/\s/g, '');
    const { totpCodeAt } = await import('../src/factors/totp/totp.js');
    await page.getByLabel('Code from your authenticator app').fill(await totpCodeAt(key, Math.floor(Date.now() / 1000)));
    await page.getByRole('button', { name: 'Add authenticator app' }).click();
    await page.locator('main[data-step="recovery_codes"]').waitFor();
    await expect(page.locator('#recovery-codes li').count()).resolves.toBe(10);
    await expectAccessible(page, 'recovery codes page');
    if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/codes.png` });
    const cb = await callbackUrl(page, () => page.getByRole('button', { name: 'I have saved my recovery codes' }).click());
    expect((await finish(bed.config, started, cb)).claims()!.acr).toBe('aal2');
    await context.close();
  });
});
