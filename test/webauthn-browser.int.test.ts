/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Browser as Chromium, Page } from 'playwright-core';
import type * as oidc from 'openid-client';
import { expectAccessible } from './support/a11y.js';
import { callbackUrl, launchChromium } from './support/chromium.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { adminApiToken, api } from './support/admin.js';
import { enrollTotp } from './support/factors.js';
import { createConfidentialClient, createUser, discover, finish, RP_REDIRECT, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';
import { withAuthenticator as withVirtualAuthenticator, type VirtualAuthenticator } from './support/virtual-authenticator.js';

/**
 * Issue #4 in a real browser: Debian Chromium with the DevTools Protocol's virtual authenticator
 * (WebAuthn.enable, WebAuthn.addVirtualAuthenticator), the project's own @simplewebauthn/browser
 * bundle under the CSP, and openid-client as the relying party.
 */
// each page state is checked with axe at three layouts (test/support/a11y.ts)
jest.setTimeout(90_000);
const iso = newIsolation();
let server: RunningServer;
let chromium: Chromium;
let config: oidc.Configuration;

beforeAll(async () => {
  server = await startServer(iso);
  const rp = await createConfidentialClient(server.app);
  config = await discover(server.issuer, rp.clientId, rp.clientSecret);
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await dropIsolation(iso);
});


const withAuthenticator = (options: Parameters<typeof withVirtualAuthenticator>[1]) => withVirtualAuthenticator(chromium, options);

/**
 * Opens the login page and signs in with a passkey, no username typed. Where the browser offers passkey
 * autofill (conditional mediation), Chromium's virtual authenticator answers the page's autofill request
 * by itself, as a user picking the passkey in the username field's autofill would; elsewhere the button
 * does. Which one is decided by what the browser reports, never by waiting a while (a race under load).
 */
async function passkeySignIn(page: Page, url: string) {
  // asked on the page still open (the issuer's /account): the autofill answer may come before any wait
  const autofill = await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable?.() ?? false);
  await page.goto(url);
  if (!autofill) await page.getByRole('button', { name: 'Use a passkey' }).click();
}

/** Types the password on the sign-in page (the user picks nothing from autofill). */
async function typePassword(page: Page, user: { email: string; password: string }) {
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Opens "Add a passkey" on /account: sign in with the password and, for an account with TOTP, the code the step-up asks for. */
async function openAddPasskey(page: Page, user: { email: string; password: string }, totp?: { code(): Promise<string> }) {
  await page.goto(`${server.issuer}/account/keys/new?kind=passkey`);
  await typePassword(page, user);
  if (totp) {
    await page.getByLabel('Code from your authenticator app').fill(await totp.code());
    await page.getByRole('button', { name: 'Verify code' }).click();
  }
  await page.getByRole('heading', { name: 'Add a passkey' }).waitFor();
}

/** Signs in on /account with the password and adds a passkey through the browser's WebAuthn API. */
async function registerPasskey(v: VirtualAuthenticator, user: { email: string; password: string }, label: string, check = false) {
  const { page } = v;
  await openAddPasskey(page, user);
  if (check) await expectAccessible(page, '/account: add a passkey');
  await page.getByLabel('Name (so you can recognise it later)').fill(label);
  await page.getByRole('button', { name: 'Create the passkey' }).click();
  await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
  if (check) await expectAccessible(page, '/account: recovery codes after the first passkey');
  await page.getByRole('button', { name: 'I have saved my recovery codes' }).click();
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  expect(await page.getByText(label, { exact: true }).count()).toBe(1);
  if (check) await expectAccessible(page, '/account with a passkey');
}

describe('passkeys in Chromium (virtual authenticator)', () => {
  it.each([
    { backupEligible: false, acr: 'phrh', bound: 'hwk', shown: 'Device-bound' },
    { backupEligible: true, acr: 'phr', bound: 'swk', shown: 'Synced (backed up)' },
  ])('registers a passkey (BE=$backupEligible), signs out, and signs in with the passkey alone: acr=$acr', async ({ backupEligible, acr, bound, shown }) => {
    const user = await createUser(server.app);
    const v = await withAuthenticator({ backupEligible });
    try {
      await registerPasskey(v, user, 'My laptop', !backupEligible);
      expect(await v.page.getByText(shown).count()).toBe(1);
      const stored = await server.app.stores.factors.listForAccount(user.id);
      expect(stored[0]!.webauthn).toMatchObject({ backupEligible, userVerifying: true });

      // sign out: the session is gone, the authenticator (and its resident key) stays
      await v.context.clearCookies();
      const started = await startAuthorization(config);
      const cb = await callbackUrl(v.page, () => passkeySignIn(v.page, started.url.toString()));
      const claims = (await finish(config, started, cb)).claims()!;
      expect(claims.sub).toBe(user.id);
      expect(claims.acr).toBe(acr);
      expect([...(claims.amr as string[])].sort()).toEqual([bound, 'mfa', 'user'].sort());
      expect(v.violations).toEqual([]);
    } finally {
      await v.context.close();
    }
  });

  it('adding a passkey to an account with TOTP asks for a fresh aal2 first (SPEC §4)', async () => {
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const v = await withAuthenticator({ backupEligible: false });
    try {
      // a fresh password alone does not allow adding a factor to an account that reaches aal2: the code too
      await openAddPasskey(v.page, user, totp);
      await v.page.getByRole('button', { name: 'Create the passkey' }).click();
      await v.page.getByRole('heading', { name: /Save your recovery codes|Your account/ }).waitFor();
      const factors = await server.app.stores.factors.listForAccount(user.id);
      expect(factors.map((f) => f.type).sort()).toEqual(['totp', 'webauthn']);
      expect(v.violations).toEqual([]);
    } finally {
      await v.context.close();
    }
  });

  it('a passkey added on /account lifts a password session to phr with the WebAuthn prompt only', async () => {
    const user = await createUser(server.app);
    const v = await withAuthenticator({ backupEligible: true });
    try {
      await registerPasskey(v, user, 'Phone');
      await v.context.clearCookies();
      // the user types the password instead of picking the passkey from autofill: no touch for now
      await v.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: v.authenticatorId, enabled: false });
      const first = await startAuthorization(config);
      await v.page.goto(first.url.toString());
      const cb1 = await callbackUrl(v.page, () => typePassword(v.page, user));
      expect((await finish(config, first, cb1)).claims()!.acr).toBe('aal1');

      await v.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: v.authenticatorId, enabled: true });
      const second = await startAuthorization(config, { acr_values: 'phr' });
      await v.page.unroute(`${RP_REDIRECT}**`);
      await v.page.goto(second.url.toString());
      await v.page.getByRole('heading', { name: 'Use your passkey' }).waitFor();
      await expectAccessible(v.page, 'passkey step (phr)');
      expect(await v.page.getByLabel('Password').count()).toBe(0);
      expect(await v.page.getByLabel('Code from your authenticator app').count()).toBe(0);
      expect(await v.page.getByRole('button', { name: /recovery code/ }).count()).toBe(0);
      const cb2 = await callbackUrl(v.page, () => v.page.getByRole('button', { name: 'Use your passkey' }).click());
      const claims = (await finish(config, second, cb2)).claims()!;
      expect(claims.acr).toBe('phr');
      // the user-verified passkey supports every level by itself (SPEC §1), so amr describes it alone
      expect([...(claims.amr as string[])].sort()).toEqual(['mfa', 'swk', 'user']);
      expect(v.violations).toEqual([]);
    } finally {
      await v.context.close();
    }
  });

  it.each([
    { signalApi: true, shown: 'a browser with the WebAuthn signal API' },
    { signalApi: false, shown: 'a browser without it' },
  ])('a passkey an admin removed: the sign-in page says it is no longer registered, and tells $shown', async ({ signalApi }) => {
    const user = await createUser(server.app);
    const v = await withAuthenticator({ backupEligible: false });
    // the "Use a passkey" button only (no autofill request racing it), and every signal call recorded
    await v.page.addInitScript((keepApi: boolean) => {
      const w = window as unknown as { __signals: unknown[]; __nativeSignal: boolean };
      const api = PublicKeyCredential as unknown as Record<string, unknown>;
      w.__signals = [];
      w.__nativeSignal = typeof api.signalUnknownCredential === 'function';
      api.isConditionalMediationAvailable = () => Promise.resolve(false);
      const native = api.signalUnknownCredential as ((o: unknown) => Promise<void>) | undefined;
      if (!keepApi) delete api.signalUnknownCredential;
      else if (native) {
        api.signalUnknownCredential = (o: unknown) => {
          w.__signals.push(o);
          return native.call(PublicKeyCredential, o);
        };
      }
    }, signalApi);
    try {
      await registerPasskey(v, user, 'Laptop passkey');
      const [factor] = await server.app.stores.factors.listForAccount(user.id);
      const [stored] = await server.app.stores.factors.webAuthnCredentials(user.id);
      const credentialId = stored!.credentialId;

      // an admin removes it (admin API); the browser's authenticator still holds it
      const admin = await adminApiToken(server.app, server.issuer);
      expect((await api(server.issuer, admin.token, 'DELETE', `/users/${user.id}/factors/${factor!.id}?reason=lost%20laptop`)).status).toBeLessThan(300);
      const before = (await v.cdp.send('WebAuthn.getCredentials', { authenticatorId: v.authenticatorId })).credentials;
      expect(before.map((c) => Buffer.from(c.credentialId, 'base64').toString('base64url'))).toContain(credentialId);

      await v.context.clearCookies();
      const started = await startAuthorization(config);
      await v.page.goto(started.url.toString());
      await v.page.locator('main[data-step="login"]').waitFor();
      expect(await v.page.evaluate(() => (window as unknown as { __nativeSignal: boolean }).__nativeSignal)).toBe(true); // Chromium has the API
      await v.page.getByRole('button', { name: 'Use a passkey' }).click();
      const said = v.page.locator('main[data-step="login"] [data-unknown-passkey]');
      await said.waitFor();
      expect(await said.textContent()).toContain('That passkey is no longer registered here');
      expect(await v.page.getByText(user.email).count()).toBe(0);
      // the other ways stay open
      await v.page.getByLabel('Password').waitFor();
      await v.page.getByRole('link', { name: 'Forgot your password?' }).waitFor();
      await expectAccessible(v.page, 'sign-in page after an unknown passkey');

      const signals = await v.page.evaluate(() => (window as unknown as { __signals: unknown[] }).__signals);
      const held = async () => (await v.cdp.send('WebAuthn.getCredentials', { authenticatorId: v.authenticatorId })).credentials.length;
      if (signalApi) {
        expect(signals).toEqual([{ rpId: 'localhost', credentialId }]);
        // Chromium passes the signal to the authenticator: the virtual one forgets the passkey
        for (let i = 0; i < 50 && (await held()) === before.length; i++) await v.page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
        expect(await held()).toBe(before.length - 1);
      } else {
        expect(signals).toEqual([]);
        expect(await held()).toBe(before.length); // nothing told it; the words on the page are all there is
      }
      expect(v.violations).toEqual([]);
    } finally {
      await v.context.close();
    }
  });

  it('says so in words when the ceremony fails or the browser has no WebAuthn, and keeps the other ways open', async () => {
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    // an authenticator that cannot verify the user: Chromium refuses the passkey ceremony (as on cancel)
    const v = await withAuthenticator({ backupEligible: false, userVerification: false });
    try {
      await openAddPasskey(v.page, user, totp);
      await v.page.getByRole('button', { name: 'Create the passkey' }).click();
      await v.page.getByRole('alert').filter({ hasText: /cancelled|could not be used/ }).waitFor();
      await expectAccessible(v.page, '/account: add a passkey, ceremony failed');
      expect(await server.app.stores.factors.webAuthnCredentials(user.id)).toEqual([]);
    } finally {
      await v.context.close();
    }

    // a browser without WebAuthn: the page says so and the authenticator app is still offered
    const context = await chromium.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.addInitScript(() => {
      Object.defineProperty(window, 'PublicKeyCredential', { value: undefined });
    });
    try {
      const other = await createUser(server.app);
      await enrollTotp(server.app, other.id);
      await server.app.stores.factors.createWebAuthn(other.id, {
        label: 'Key',
        credentialId: 'AAAAAAAAAAAAAAAAAAAAAA',
        publicKey: new Uint8Array([1]),
        signCount: 0,
        transports: ['usb'],
        aaguid: '00000000-0000-0000-0000-000000000000',
        backupEligible: false,
        backupState: false,
        userVerifying: false,
        attested: false,
      });
      const first = await startAuthorization(config, { acr_values: 'aal2' });
      await page.goto(first.url.toString());
      await typePassword(page, other);
      await page.getByRole('alert').filter({ hasText: 'This browser cannot use passkeys or security keys' }).waitFor();
      await expectAccessible(page, 'security key step in a browser without WebAuthn');
      await page.getByRole('button', { name: 'Use your authenticator app instead' }).click();
      await page.getByLabel('Code from your authenticator app').waitFor();
    } finally {
      await context.close();
    }
  });
});
