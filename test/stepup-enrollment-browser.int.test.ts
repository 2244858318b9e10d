/// <reference lib="dom" />
import { describe, expect, it, jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import { expectAccessible } from './support/a11y.js';
import { callbackUrl } from './support/chromium.js';
import { createUser, finish, RP_REDIRECT, startAuthorization } from './support/rp.js';
import { useTestbed } from './support/testbed.js';
import { withAuthenticator } from './support/virtual-authenticator.js';

/**
 * Issue #13 (2) in a real browser: a password session whose app asks for phr registers a passkey
 * right there (Debian Chromium, CDP virtual authenticator, the CSP in force), uses it once, and the RP
 * gets acr=phr. The password is not asked again.
 */
// each page state is checked with axe at three layouts (test/support/a11y.ts)
jest.setTimeout(90_000);
const bed = useTestbed({ chromium: true, client: { clientName: 'Payroll' } });

/** An earlier sign-in with the password only: the session holds aal1. */
async function signInWithPassword(page: Page, user: { email: string; password: string }) {
  const first = await startAuthorization(bed.config);
  await page.goto(first.url.toString());
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  const cb = await callbackUrl(page, () => page.getByRole('button', { name: 'Sign in', exact: true }).click());
  // the callback's navigation finishes before the next one starts (else the next goto is interrupted)
  await page.waitForURL(`${RP_REDIRECT}**`);
  expect((await finish(bed.config, first, cb)).claims()!.acr).toBe('aal1');
}

describe('a passkey registered inside a step-up, in Chromium', () => {
  it('password first (an earlier sign-in), then phr: choose a passkey, create it, use it; acr=phr', async () => {
    const user = await createUser(bed.server.app);
    const v = await withAuthenticator(bed.chromium, { backupEligible: true });
    const { page } = v;
    try {
      await signInWithPassword(page, user);

      const second = await startAuthorization(bed.config, { acr_values: 'phr' });
      await page.goto(second.url.toString());
      await page.locator('main[data-step="enroll_choice"]').waitFor();
      expect(await page.getByText('Payroll asks for a passkey or a security key.').count()).toBe(1);
      expect(await page.getByRole('button', { name: 'An authenticator app' }).count()).toBe(0); // cannot reach phr
      await expectAccessible(page, 'enrollment choice (phr: passkey or security key)');
      await page.getByRole('button', { name: 'A passkey' }).click();
      await page.locator('main[data-step="enroll_webauthn"]').waitFor();
      await expectAccessible(page, 'passkey enrollment in a step-up');
      await page.getByLabel('Name (so you can recognise it later)').fill('Laptop');
      await page.getByRole('button', { name: 'Create the passkey' }).click();
      await page.locator('main[data-step="recovery_codes"]').waitFor();
      expect(await page.locator('#recovery-codes li').count()).toBe(10);
      await expectAccessible(page, 'recovery codes after a passkey');
      await page.getByRole('button', { name: 'I have saved my recovery codes' }).click();
      await page.locator('main[data-step="webauthn"]').waitFor();
      await expectAccessible(page, 'passkey step');
      const cb2 = await callbackUrl(page, () => page.getByRole('button', { name: 'Use your passkey' }).click());
      const claims = (await finish(bed.config, second, cb2)).claims()!;
      expect(claims.acr).toBe('phr');
      expect(claims.amr).toEqual(expect.arrayContaining(['swk', 'user', 'mfa']));
      const factors = await bed.server.app.stores.factors.listForAccount(user.id);
      expect(factors.map((f) => [f.type, f.label])).toEqual([['webauthn', 'Laptop']]);
      expect(v.violations).toEqual([]);
    } finally {
      await v.context.close();
    }
  });

  it('phrh with a synced passkey: kept as a factor, and the RP gets unmet_authentication_requirements', async () => {
    const user = await createUser(bed.server.app);
    const v = await withAuthenticator(bed.chromium, { backupEligible: true, transport: 'usb', userVerification: false });
    const { page } = v;
    try {
      await signInWithPassword(page, user);

      const second = await startAuthorization(bed.config, { acr_values: 'phrh' });
      await page.goto(second.url.toString());
      await page.locator('main[data-step="enroll_webauthn"]').waitFor(); // a security key is the only choice
      await expectAccessible(page, 'security key enrollment (phrh)');
      await page.getByRole('button', { name: 'Register the security key' }).click();
      await page.locator('main[data-step="recovery_codes"]').waitFor();
      const cb = await callbackUrl(page, () => page.getByRole('button', { name: 'I have saved my recovery codes' }).click());
      expect(new URL(cb).searchParams.get('error')).toBe('unmet_authentication_requirements');
      expect((await bed.server.app.stores.factors.listForAccount(user.id)).map((f) => f.type)).toEqual(['webauthn']);
    } finally {
      await v.context.close();
    }
  });
});
