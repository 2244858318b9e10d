/// <reference lib="dom" />
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import { createAccountWithTotp } from './support/admin.js';
import { expectAccessible } from './support/a11y.js';
import { callbackUrl } from './support/chromium.js';
import { dropIsolation, newIsolation, PRODUCTION_POLICY_FILE } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { createConfidentialClient, createUser, discover, finish, RP_REDIRECT, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';
import { useTestbed } from './support/testbed.js';

/**
 * Issue #16 in Debian Chromium: the step page says in one sentence why it is shown (a new device and
 * network), "Your devices" lists and forgets this device, the admin's device list, and the page that
 * refuses a sign-in under onUnreachable "deny"; each new page passes axe (test/support/a11y.ts).
 */
jest.setTimeout(120_000);
// the production policy: every risk signal on
const bed = useTestbed({ chromium: true, client: { clientName: 'Payroll' }, env: { POLICY_FILE: PRODUCTION_POLICY_FILE } });

async function signIn(page: Page, user: { email: string; password: string }) {
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

describe('risk signals in a browser', () => {
  it('the step page says why (a new device and network); "Your devices" lists and forgets this device', async () => {
    const user = await createUser(bed.server.app);
    const totp = await enrollTotp(bed.server.app, user.id);
    const context = await bed.chromium.newContext();
    const page = await context.newPage();
    try {
      const started = await startAuthorization(bed.config, { acr_values: 'aal1' });
      await page.goto(started.url.toString());
      await signIn(page, user);
      await page.locator('main[data-step="totp"]').waitFor();
      const why = 'This is a new device and a new network for your account, so signing in to Payroll needs a second step: a code from your authenticator app, a passkey or a security key.';
      expect(await page.getByText(why).count()).toBe(1);
      await expectAccessible(page, 'authenticator app step asked by a risk signal');
      await page.getByLabel('Code from your authenticator app').fill(await totp.code());
      const cb = await callbackUrl(page, () => page.getByRole('button', { name: 'Verify code' }).click());
      await page.waitForURL(`${RP_REDIRECT}**`);
      expect((await finish(bed.config, started, cb)).claims()!.acr).toBe('aal2');

      await page.goto(`${bed.server.issuer}/account`);
      await page.getByRole('link', { name: /See the devices you signed in from/ }).click();
      await page.getByRole('heading', { name: 'Your devices' }).waitFor();
      expect(await page.getByText('(this device)').count()).toBe(1);
      expect(await page.getByText('Network 127.0.0.0/24').count()).toBe(1);
      await expectAccessible(page, 'Your devices');
      await page.getByRole('button', { name: /^Forget .* last seen/ }).click();
      await page.getByText('Forgotten. Signing in from that device asks for your second step again.').waitFor();
      expect(await page.getByText('No devices yet.').count()).toBe(1);
      await expectAccessible(page, 'Your devices, after forgetting');
    } finally {
      await context.close();
    }
  });

  it("the admin's list of a user's devices", async () => {
    const user = await createUser(bed.server.app);
    await bed.server.app.stores.knownDevices.remember({ accountId: user.id, deviceDigest: 'd'.repeat(43), description: 'Firefox 140 on Linux', network: '203.0.113.0/24', at: bed.now() - 3600 });
    const admin = await createAccountWithTotp(bed.server.app, { admin: true });
    const context = await bed.chromium.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${bed.server.issuer}/admin/users/${user.id}/devices`);
      await signIn(page, admin);
      await page.locator('main[data-step="totp"]').waitFor();
      await page.getByLabel('Code from your authenticator app').fill(await admin.totp.code());
      await page.getByRole('button', { name: 'Verify code' }).click();
      await page.getByRole('heading', { name: `Devices of ${user.email}` }).waitFor();
      expect(await page.getByRole('cell', { name: '203.0.113.0/24' }).count()).toBe(1);
      await expectAccessible(page, "admin: a user's devices");
      await page.getByRole('button', { name: 'Forget every device and network' }).click();
      await page.getByText('Every device and network forgotten').waitFor();
      await expectAccessible(page, "admin: a user's devices, all forgotten");
    } finally {
      await context.close();
    }
  });
});

describe('onUnreachable "deny" in a browser', () => {
  const iso = newIsolation();
  let server: RunningServer;
  let config: Awaited<ReturnType<typeof discover>>;
  beforeAll(async () => {
    const file = `/tmp/stepup-risk-deny-${iso.schema}.json`;
    const levels = (JSON.parse((await import('node:fs')).readFileSync(PRODUCTION_POLICY_FILE, 'utf8')) as { levels: unknown[] }).levels;
    writeFileSync(file, JSON.stringify({ levels, risk: { onUnreachable: 'deny' } }));
    server = await startServer(iso, { POLICY_FILE: file });
    const rp = await createConfidentialClient(server.app, { clientName: 'Payroll' });
    config = await discover(server.issuer, rp.clientId, rp.clientSecret);
  });
  afterAll(async () => {
    await server?.close();
    await dropIsolation(iso);
  });

  it('the refusal says why and leads back to the app, which gets unmet_authentication_requirements', async () => {
    const user = await createUser(server.app);
    const context = await bed.chromium.newContext();
    const page = await context.newPage();
    try {
      const started = await startAuthorization(config, { acr_values: 'aal1' });
      await page.goto(started.url.toString());
      await signIn(page, user);
      await page.locator('main[data-step="refused"]').waitFor();
      expect(await page.getByRole('alert').innerText()).toMatch(/^This is a new device and a new network for your account, and your account has no second step/);
      await expectAccessible(page, 'sign-in refused by a risk signal');
      const cb = await callbackUrl(page, () => page.getByRole('link', { name: 'Back to Payroll' }).click());
      expect(new URL(cb).searchParams.get('error')).toBe('unmet_authentication_requirements');
    } finally {
      await context.close();
    }
  });
});
