import { randomUUID } from 'node:crypto';
/// <reference lib="dom" />
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, jest } from '@jest/globals';
import type { BrowserContext, Page } from 'playwright-core';
import { hashPassword } from '../src/factors/password/password.js';
import { hashRecoveryCode, newRecoveryCodes } from '../src/factors/recovery-codes/recovery-codes.js';
import { expectAccessible } from './support/a11y.js';
import { createAccountWithTotp } from './support/admin.js';
import { callbackUrl } from './support/chromium.js';
import { freePort, startServerProcess } from './support/process.js';
import { createUser, finish, startAuthorization } from './support/rp.js';
import { capturingNotices } from './support/server.js';
import { useTestbed } from './support/testbed.js';

/**
 * Issue #15: every people-facing and admin page state that no other browser test visits, in Debian
 * Chromium with the CSP in force, checked with axe-core at desktop and phone sizes (test/support/a11y.ts):
 * no serious or critical WCAG 2.1 A/AA violation, no sideways scroll at 390 px. The other browser tests
 * check the states they visit (sign-in, step pages, enrollment, recovery codes, passkeys, admin removal).
 * Each state is waited for by a stable marker (data-step, data-* or its heading), never by a timeout.
 */
jest.setTimeout(240_000); // three axe runs per state on a shared machine

const notices = capturingNotices();
const bed = useTestbed({ chromium: true, client: { clientName: 'Payroll' }, env: { SMTP_URL: 'smtp://127.0.0.1:1' }, sendNotice: notices.send });

const NEW_PASSWORD = 'a brand new passphrase 42';

async function browserPage(): Promise<{ context: BrowserContext; page: Page; violations: string[] }> {
  const context = await bed.chromium.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  return { context, page, violations };
}

const heading = (page: Page, name: string | RegExp) => page.getByRole('heading', { level: 1, name }).waitFor();

/** From the sign-in page: password, then the authenticator app code when the step-up asks for it. */
async function signIn(page: Page, who: { email: string; password: string; totp?: { code(epoch?: number): Promise<string> } }) {
  await page.locator('main[data-step="login"], main[data-step="password"]').waitFor();
  const email = page.getByLabel('Email');
  if (!(await email.inputValue())) await email.fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  if (who.totp) {
    await page.locator('main[data-step="totp"]').waitFor();
    await page.getByLabel('Code from your authenticator app').fill(await who.totp.code(bed.now()));
    await page.getByRole('button', { name: 'Verify code' }).click();
  }
}

describe('accessibility of every page, desktop and phone (issue #15)', () => {
  it('pages anyone can reach: home, 404, an OIDC error, forgot password, the reset link (form, refused, done, used)', async () => {
    const { context, page, violations } = await browserPage();
    try {
      await page.goto(`${bed.server.issuer}/`);
      await heading(page, 'stepup');
      await expectAccessible(page, 'home page');

      const missing = await page.goto(`${bed.server.issuer}/no-such-page`);
      expect(missing!.status()).toBe(404);
      await page.locator('main').waitFor();
      await expectAccessible(page, '404 page');

      // an authorization request of an unknown client: the styled error page with its reference
      const refused = await page.goto(`${bed.server.issuer}/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://rp.example/cb')}`);
      expect(refused!.status()).toBe(400);
      await page.locator('main [data-reference], main code').first().waitFor();
      await expectAccessible(page, 'OIDC error page');

      const user = await createUser(bed.server.app);
      await page.goto(`${bed.server.issuer}/password/forgot`);
      await heading(page, 'Forgot your password?');
      await expectAccessible(page, 'forgot password');
      await page.getByLabel('Email').fill(user.email);
      await page.getByRole('button', { name: 'Send the link' }).click();
      await page.locator('[data-forgot="sent"]').waitFor();
      await expectAccessible(page, 'forgot password: link sent');

      let notice = await notices.next();
      while (notice.kind !== 'password_reset') notice = await notices.next();
      await page.goto(notice.link);
      await heading(page, 'Choose a new password');
      await expectAccessible(page, 'reset password form');
      await page.getByLabel('New password', { exact: true }).fill('password1');
      await page.getByLabel('New password again').fill('password1');
      await page.getByRole('button', { name: 'Change password' }).click();
      await page.locator('#password-error').waitFor();
      await expectAccessible(page, 'reset password: refused (common password)');
      await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
      await page.getByLabel('New password again').fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Change password' }).click();
      await page.locator('[data-reset="done"]').waitFor();
      await expectAccessible(page, 'reset password: done');
      await page.goto(notice.link);
      await page.locator('[data-reset="expired"]').waitFor();
      await expectAccessible(page, 'reset password: link used');
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('sign-in states: a recovery code (refused, accepted), a password that must change, the sign-out confirmation and the signed-out page', async () => {
    const user = await createAccountWithTotp(bed.server.app);
    const codes = newRecoveryCodes();
    await bed.server.app.stores.recoveryCodes.replace(user.id, codes.map(hashRecoveryCode));
    const { context, page, violations } = await browserPage();
    try {
      const started = await startAuthorization(bed.config, { acr_values: 'aal2' });
      await page.goto(started.url.toString());
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.locator('main[data-step="totp"]').waitFor();
      await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
      await page.locator('main[data-step="recovery_code"]').waitFor();
      await expectAccessible(page, 'recovery code step');
      await page.getByLabel('Recovery code').fill('not-a-code');
      await page.getByRole('button', { name: 'Use recovery code' }).click();
      await page.locator('main[data-step="recovery_code"] #step-error').waitFor();
      await expectAccessible(page, 'recovery code step: refused');
      await page.getByLabel('Recovery code').fill(codes[0]!);
      await page.getByRole('button', { name: 'Use recovery code' }).click();
      await page.locator('main[data-step="recovery_code_accepted"]').waitFor();
      await expectAccessible(page, 'recovery code accepted (codes left)');
      const cb = await callbackUrl(page, () => page.getByRole('button', { name: 'Continue' }).click());
      expect((await finish(bed.config, started, cb)).claims()!.acr).toBe('aal2');

      // sign out at stepup: the confirmation, then the signed-out page
      await page.goto(`${bed.server.issuer}/session/end`);
      await heading(page, /sign out/i);
      await expectAccessible(page, 'sign-out confirmation');
      await page.getByRole('button', { name: 'Sign out', exact: true }).click();
      await page.getByRole('status').filter({ hasText: 'You are signed out' }).waitFor();
      await expectAccessible(page, 'signed out');

      // an admin asked for a new password at the next sign-in
      const other = await createUser(bed.server.app);
      await bed.server.app.stores.accounts.setPassword(other.id, await hashPassword('temporary passphrase 1'), { changeRequired: true });
      const second = await startAuthorization(bed.config);
      await page.goto(second.url.toString());
      await page.getByLabel('Email').fill(other.email);
      await page.getByLabel('Password').fill('temporary passphrase 1');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.locator('[data-step="new-password"]').waitFor();
      await expectAccessible(page, 'must choose a new password');
      await page.getByLabel('New password', { exact: true }).fill('football');
      await page.getByLabel('New password again').fill('football');
      await page.getByRole('button').filter({ hasText: /password|Continue/ }).first().click();
      await page.locator('#password-error').waitFor();
      await expectAccessible(page, 'must choose a new password: refused');
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('/account: the account page, change password (and refused), add an authenticator app or a security key, new recovery codes, an unknown request', async () => {
    const user = await createAccountWithTotp(bed.server.app, { label: 'Work phone' });
    await bed.server.app.stores.recoveryCodes.replace(user.id, newRecoveryCodes().map(hashRecoveryCode));
    const { context, page, violations } = await browserPage();
    try {
      // a change needs a fresh aal2: password and code on the way in
      await page.goto(`${bed.server.issuer}/account/password`);
      await signIn(page, user);
      await heading(page, 'Change your password');
      await expectAccessible(page, '/account: change password');
      await page.getByLabel('New password', { exact: true }).fill('baseball');
      await page.getByLabel('New password again').fill('baseball');
      await page.getByRole('button', { name: 'Change password' }).click();
      await page.locator('#password-error').waitFor();
      await expectAccessible(page, '/account: change password refused');

      await page.goto(`${bed.server.issuer}/account`);
      await heading(page, 'Your account');
      await expectAccessible(page, '/account');

      await page.goto(`${bed.server.issuer}/account/totp/new`);
      await page.locator('main[data-step="enroll_totp"]').waitFor();
      await expectAccessible(page, '/account: add an authenticator app');

      await page.goto(`${bed.server.issuer}/account/keys/new?kind=security_key`);
      await page.locator('main[data-step="enroll_webauthn"]').waitFor();
      await expectAccessible(page, '/account: add a security key');

      await page.goto(`${bed.server.issuer}/account/recovery-codes/new`);
      await heading(page, 'Make new recovery codes?');
      await expectAccessible(page, '/account: confirm new recovery codes');
      await page.getByRole('button', { name: 'Make new recovery codes' }).click();
      await page.locator('#recovery-codes li').first().waitFor();
      expect(await page.locator('#recovery-codes li').count()).toBe(10);
      await expectAccessible(page, '/account: the new recovery codes');
      await page.getByRole('button', { name: 'I have saved my recovery codes' }).click();
      await page.locator('[role="status"], .notice').first().waitFor();
      await heading(page, 'Your account');
      await expectAccessible(page, '/account with a notice');

      const odd = await page.goto(`${bed.server.issuer}/account/keys/new?kind=bogus`);
      expect(odd!.status()).toBe(400);
      await heading(page, 'Unknown request');
      await expectAccessible(page, '/account: an unknown request');
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('admin pages: users, a new user (and refused), a user, temporary password, reset and disable confirmations, clients, a client form, a new secret, the audit trail (and an unknown email), "Not allowed", "Signed out"', async () => {
    const admin = await createAccountWithTotp(bed.server.app, { admin: true, name: 'Ada Admin' });
    const user = await createAccountWithTotp(bed.server.app, { name: 'Grace User' });
    const { context, page, violations } = await browserPage();
    try {
      await page.goto(`${bed.server.issuer}/admin/users`);
      await signIn(page, admin);
      await heading(page, 'Users');
      await expectAccessible(page, 'admin: users');

      await page.goto(`${bed.server.issuer}/admin/users/new`);
      await heading(page, 'Create a user');
      await expectAccessible(page, 'admin: create a user');
      // the server's own refusal (the browser's form validation set aside, as an older browser would)
      await page.locator('form[action="/admin/users"]').evaluate((f) => ((f as HTMLFormElement).noValidate = true));
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.locator('main .error[role="alert"] li').first().waitFor();
      await expectAccessible(page, 'admin: create a user, refused');

      await page.goto(`${bed.server.issuer}/admin/users/${user.id}`);
      await heading(page, 'Grace User');
      await expectAccessible(page, 'admin: a user');
      for (const [path, title] of [
        [`/admin/users/${user.id}/password`, 'Set a temporary password'],
        [`/admin/users/${user.id}/reset`, /Reset/],
        [`/admin/users/${user.id}/disable`, /Disable/],
      ] as const) {
        await page.goto(`${bed.server.issuer}${path}`);
        await heading(page, title);
        await expectAccessible(page, `admin: ${path.split('/').pop()} confirmation`);
      }

      await page.goto(`${bed.server.issuer}/admin/clients`);
      await heading(page, 'Clients');
      await expectAccessible(page, 'admin: clients');
      await page.goto(`${bed.server.issuer}/admin/clients/new`);
      await heading(page, 'Register a client');
      await expectAccessible(page, 'admin: register a client');
      await page.getByLabel('Client id').fill('a11y-app');
      await page.getByLabel('Redirect URIs (one per line)', { exact: true }).fill('https://a11y.example/cb');
      await page.getByRole('button', { name: /Register/ }).click();
      await heading(page, 'Client registered');
      await expectAccessible(page, 'admin: client registered (secret shown once)');
      await page.goto(`${bed.server.issuer}/admin/clients/a11y-app`);
      await page.getByLabel('Redirect URIs (one per line)', { exact: true }).waitFor();
      await expectAccessible(page, 'admin: edit a client');

      // issue #17: the latest event has a dead webhook delivery (shown on the audit page and /admin/outbox)
      const [latest] = await bed.server.app.stores.audit.list({ limit: 1 });
      await bed.server.app.stores.db('outbox').insert({ id: randomUUID(), channel: 'webhook', kind: latest!.type, audit_event_id: latest!.id, payload: '{}', status: 'dead', attempts: 12, last_error: 'HTTP 500' });
      await page.goto(`${bed.server.issuer}/admin/audit`);
      await heading(page, 'Audit trail');
      await page.locator('ol.events li').first().waitFor();
      await page.locator('[data-delivery="dead"]').first().waitFor();
      await expectAccessible(page, 'admin: audit trail');
      await page.goto(`${bed.server.issuer}/admin/outbox`);
      await heading(page, 'Mails and webhooks');
      await page.locator('tr[data-status="dead"]').first().waitFor();
      await expectAccessible(page, 'admin: mails and webhooks');
      await page.goto(`${bed.server.issuer}/admin/audit?subject=${encodeURIComponent('nobody-here@example.com')}`);
      await page.getByRole('alert').first().waitFor();
      await expectAccessible(page, 'admin: audit trail, unknown email');

      await page.goto(`${bed.server.issuer}/admin/signed-out`);
      await heading(page, 'Signed out');
      await expectAccessible(page, 'admin: signed out');
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }

    // a signed-in person who is not an admin
    const other = await browserPage();
    try {
      await other.page.goto(`${bed.server.issuer}/admin/users`);
      await signIn(other.page, user);
      await heading(other.page, 'Not allowed');
      await expectAccessible(other.page, 'admin: not allowed');
    } finally {
      await other.context.close();
    }
  });

  it('the demo callback of the embedded default (a real `npm start` with only PORT set)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'stepup-a11y-'));
    const port = await freePort();
    const server = await startServerProcess({ DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, port, 180_000);
    const { context, page, violations } = await browserPage();
    try {
      for (let i = 0; i < 100 && !server.output().includes('Demo password'); i++) await new Promise((r) => setTimeout(r, 100));
      const password = /Demo password\s*:?\s*(\S+)/.exec(server.output())?.[1];
      expect(password).toBeDefined();
      await page.goto(`http://localhost:${port}/demo`);
      await signIn(page, { email: 'demo@example.com', password: password! });
      await page.locator('[data-demo="signed-in"]').waitFor();
      await expectAccessible(page, 'demo callback (claims in words)');
      expect(violations).toEqual([]);
    } finally {
      await context.close();
      expect(await server.stop()).toBe(0);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
