import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as oidc from 'openid-client';
import { Browser, decodeEntities, type Page } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, startAuthorization, type AuthRequest } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';
import { SoftCredential, type CreationOptionsJSON, type RequestOptionsJSON } from './support/soft-authenticator.js';
import { enrollTotpInStepUp, reasonOf, stepOf, uidOf } from './support/steps.js';

/**
 * Issue #13 (1) and (2): the step-ups that went wrong, walked as an RP and a person walk them. A user
 * signed in with a password in an EARLIER interaction, whose app then asks for more, and who has no
 * second factor yet: offered a first second factor that can reach the level (SPEC §2 rule 4, §4).
 * Issue #23: the target chosen when the interaction starts stays its target.
 */
const iso = newIsolation();
let server: RunningServer;
let config: oidc.Configuration;
let clientId: string;

beforeAll(async () => {
  server = await startServer(iso);
  const rp = await createConfidentialClient(server.app);
  clientId = rp.clientId;
  config = await discover(server.issuer, rp.clientId, rp.clientSecret);
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

const now = () => Math.floor(Date.now() / 1000) + server.clock.offset;
const optionsIn = <T>(page: Page): T => JSON.parse(decodeEntities(/<form\b[^>]*data-options="([^"]*)"/.exec(page.html)![1]!)) as T;
const choicesOn = (page: Page) => [...page.html.matchAll(/data-choice="([a-z_]+)"/g)].map((m) => m[1]);

async function authorize(browser: Browser, req: AuthRequest = {}) {
  const started = await startAuthorization(config, req);
  return { started, page: await browser.follow(started.url.toString()) };
}

/** A browser whose session holds aal1 from an earlier sign-in (the case no test took before). */
async function passwordSession(user: { email: string; password: string }) {
  const browser = new Browser(server.issuer);
  const { started, page } = await authorize(browser);
  const cb = await browser.submit(page, '/password', { email: user.email, password: user.password });
  expect((await finish(config, started, cb.url)).claims()!.acr).toBe('aal1');
  return browser;
}

function errorAt(page: Page) {
  expect(isCallback(page)).toBe(true);
  return new URL(page.url).searchParams.get('error');
}

describe('issue #13 (1): a password session asked for aal2 by a later request, with no second factor yet', () => {
  it.each<[string, AuthRequest]>([
    ['acr_values=aal2', { acr_values: 'aal2' }],
    ['an essential acr', { claims: { id_token: { acr: { essential: true, value: 'aal2' } } } }],
  ])('%s: the choice of a first second factor (no 500), then an authenticator app, and acr=aal2', async (_label, req) => {
    const user = await createUser(server.app);
    const browser = await passwordSession(user);
    const { started, page } = await authorize(browser, req);
    expect(page.status).toBe(200);
    expect(stepOf(page)).toBe('enroll_choice');
    expect(choicesOn(page)).toEqual(['passkey', 'security_key', 'totp']);
    expect(reasonOf(page)).toContain(clientId); // the page names the app and says why
    const { page: codes } = await enrollTotpInStepUp(browser, page, now());
    expect(stepOf(codes)).toBe('recovery_codes');
    const cb = await browser.submit(codes, `/interaction/${uidOf(codes)}`);
    const claims = (await finish(config, started, cb.url)).claims()!;
    expect(claims.acr).toBe('aal2');
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
  });

  it('a client whose minimum_acr is aal2: the same enrollment', async () => {
    const strict = await createConfidentialClient(server.app, { minimumAcr: 'aal2' } as never);
    const strictConfig = await discover(server.issuer, strict.clientId, strict.clientSecret);
    const user = await createUser(server.app);
    const browser = await passwordSession(user);
    const started = await startAuthorization(strictConfig, {});
    const page = await browser.follow(started.url.toString());
    expect(stepOf(page)).toBe('enroll_choice');
  });

  it('a password older than 5 minutes is asked again first (SPEC §4), then nothing twice', async () => {
    const user = await createUser(server.app);
    const browser = await passwordSession(user);
    server.clock.offset += 10 * 60;
    try {
      const { started, page } = await authorize(browser, { acr_values: 'aal2' });
      expect(stepOf(page)).toBe('password');
      const choice = await browser.submit(page, '/password', { password: user.password });
      expect(stepOf(choice)).toBe('enroll_choice');
      const { page: codes } = await enrollTotpInStepUp(browser, choice, now());
      const cb = await browser.submit(codes, `/interaction/${uidOf(codes)}`);
      const claims = (await finish(config, started, cb.url)).claims()!;
      expect(claims.acr).toBe('aal2');
      expect(claims.auth_time).toBeGreaterThanOrEqual(now() - 5);
    } finally {
      server.clock.offset -= 10 * 60;
    }
  });

  it('an abandoned enrollment leaves no active factor and the session where it was', async () => {
    const user = await createUser(server.app);
    const browser = await passwordSession(user);
    const { page } = await authorize(browser, { acr_values: 'aal2' });
    const shown = await browser.submit(page, `/interaction/${uidOf(page)}`, { enroll: 'totp' });
    expect(stepOf(shown)).toBe('enroll_totp');
    // a wrong code, then the person walks away
    const wrong = await browser.submit(shown, '/enroll/totp', { code: '000000' });
    expect(wrong.status).toBe(400);
    expect(stepOf(wrong)).toBe('enroll_totp');
    expect(await server.app.stores.factors.listForAccount(user.id)).toEqual([]);
    const again = await authorize(browser, { prompt: 'none' });
    expect((await finish(config, again.started, again.page.url)).claims()!.acr).toBe('aal1');
  });
});

describe('issue #13 (2): a passkey or security key registered inside the step-up', () => {
  it('phr: offered a passkey or security key only; the new passkey is then used once, and acr=phr', async () => {
    const user = await createUser(server.app);
    const browser = await passwordSession(user);
    const { started, page } = await authorize(browser, { acr_values: 'phr' });
    expect(stepOf(page)).toBe('enroll_choice');
    expect(choicesOn(page)).toEqual(['passkey', 'security_key']);
    const register = await browser.submit(page, `/interaction/${uidOf(page)}`, { enroll: 'passkey' });
    expect(stepOf(register)).toBe('enroll_webauthn');
    const passkey = new SoftCredential(new URL(server.issuer).hostname, server.issuer, { userVerified: true, backupEligible: true });
    const codes = await browser.submit(register, '/enroll/passkey', { response: JSON.stringify(passkey.register(optionsIn<CreationOptionsJSON>(register))), label: 'Phone' });
    expect(stepOf(codes)).toBe('recovery_codes');
    const assertPage = await browser.submit(codes, `/interaction/${uidOf(codes)}`);
    expect(stepOf(assertPage)).toBe('webauthn');
    const cb = await browser.submit(assertPage, '/webauthn', { response: JSON.stringify(passkey.assert(optionsIn<RequestOptionsJSON>(assertPage))) });
    const claims = (await finish(config, started, cb.url)).claims()!;
    expect(claims.acr).toBe('phr');
    expect(claims.amr).toEqual(expect.arrayContaining(['swk', 'user']));
    const factors = await server.app.stores.factors.listForAccount(user.id);
    expect(factors).toHaveLength(1);
    expect(factors[0]).toMatchObject({ type: 'webauthn', label: 'Phone' });
    const audit = await server.app.stores.audit.list({ subject: user.id, type: 'factor.enroll' });
    expect(audit[0]).toMatchObject({ outcome: 'success', reason: 'during_step_up' });
  });

  it('phrh: a security key only; a synced credential registered there is kept, and the RP gets unmet (never a lower acr)', async () => {
    const user = await createUser(server.app);
    const browser = await passwordSession(user);
    const { page } = await authorize(browser, { acr_values: 'phrh' });
    expect(stepOf(page)).toBe('enroll_webauthn'); // the one choice is shown at once
    expect(page.html).toContain('/enroll/security_key');
    const synced = new SoftCredential(new URL(server.issuer).hostname, server.issuer, { userVerified: false, backupEligible: true });
    const codes = await browser.submit(page, '/enroll/security_key', { response: JSON.stringify(synced.register(optionsIn<CreationOptionsJSON>(page))) });
    expect(stepOf(codes)).toBe('recovery_codes');
    const end = await browser.submit(codes, `/interaction/${uidOf(codes)}`);
    expect(errorAt(end)).toBe('unmet_authentication_requirements');
    expect((await server.app.stores.factors.listForAccount(user.id)).map((f) => f.type)).toEqual(['webauthn']);
  });

  it('phrh: a device-bound security key reaches it', async () => {
    const user = await createUser(server.app);
    const browser = await passwordSession(user);
    const { started, page } = await authorize(browser, { acr_values: 'phrh' });
    const key = new SoftCredential(new URL(server.issuer).hostname, server.issuer, { userVerified: false, backupEligible: false });
    const codes = await browser.submit(page, '/enroll/security_key', { response: JSON.stringify(key.register(optionsIn<CreationOptionsJSON>(page))) });
    const assertPage = await browser.submit(codes, `/interaction/${uidOf(codes)}`);
    expect(stepOf(assertPage)).toBe('webauthn');
    const cb = await browser.submit(assertPage, '/webauthn', { response: JSON.stringify(key.assert(optionsIn<RequestOptionsJSON>(assertPage))) });
    expect((await finish(config, started, cb.url)).claims()!.acr).toBe('phrh');
  });

  it('an enrollment form posted for a choice that was not offered changes nothing', async () => {
    const user = await createUser(server.app);
    const browser = await passwordSession(user);
    const { page } = await authorize(browser, { acr_values: 'phr' });
    const forged = await browser.submit(page, `/interaction/${uidOf(page)}`, { enroll: 'totp' });
    expect(stepOf(forged)).toBe('enroll_choice'); // totp cannot reach phr: not offered, not shown
    expect(await server.app.stores.factors.listForAccount(user.id, { includePending: true })).toEqual([]);
  });
});

describe('issue #23: the order of preference in acr_values survives the first step (SPEC §2 rule 3)', () => {
  it.each<[string, AuthRequest]>([
    ['acr_values="aal2 aal1"', { acr_values: 'aal2 aal1' }],
    ['essential values ["aal2","aal1"]', { claims: { id_token: { acr: { essential: true, values: ['aal2', 'aal1'] } } } }],
  ])('%s, new browser, a TOTP user: the password, then the code, and acr=aal2', async (_label, req) => {
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const browser = new Browser(server.issuer);
    const { started, page } = await authorize(browser, req);
    const codePage = await browser.submit(page, '/password', { email: user.email, password: user.password });
    expect(stepOf(codePage)).toBe('totp');
    const cb = await browser.submit(codePage, '/totp', { code: await totp.code() });
    expect((await finish(config, started, cb.url)).claims()!.acr).toBe('aal2');
  });

  it('prompt=login on an aal2 session asked "aal2 aal1": both steps again, acr=aal2', async () => {
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const browser = new Browser(server.issuer);
    const first = await authorize(browser, { acr_values: 'aal2' });
    const code1 = await browser.submit(first.page, '/password', { email: user.email, password: user.password });
    await finish(config, first.started, (await browser.submit(code1, '/totp', { code: await totp.code() })).url);
    server.clock.offset += 31; // the next TOTP time step
    try {
      const { started, page } = await authorize(browser, { acr_values: 'aal2 aal1', prompt: 'login' });
      expect(stepOf(page)).toBe('password');
      const codePage = await browser.submit(page, '/password', { password: user.password });
      expect(stepOf(codePage)).toBe('totp');
      const cb = await browser.submit(codePage, '/totp', { code: await totp.code(now()) });
      expect((await finish(config, started, cb.url)).claims()!.acr).toBe('aal2');
    } finally {
      server.clock.offset -= 31;
    }
  });

  it('a password-only user asked "aal2 aal1": aal1 is the first value reachable with enrolled factors (rule 3; enrollment is rule 4\'s exception only)', async () => {
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer);
    const { started, page } = await authorize(browser, { acr_values: 'aal2 aal1' });
    const cb = await browser.submit(page, '/password', { email: user.email, password: user.password });
    expect((await finish(config, started, cb.url)).claims()!.acr).toBe('aal1');
  });
});
