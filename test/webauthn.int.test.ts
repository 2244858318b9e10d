import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as oidc from 'openid-client';
import { totpCodeAt } from '../src/factors/totp/totp.js';
import { createWebAuthnUsersRepo } from '../src/store/webauthn-users.repo.js';
import { Browser, decodeEntities, type Page } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, startAuthorization, type AuthRequest, type Started } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';
import { SoftCredential, type CreationOptionsJSON, type RequestOptionsJSON } from './support/soft-authenticator.js';

/**
 * Issue #4 / SPEC §1 (phr, phrh), §2 rule 9, §3 (WebAuthn), §4: registration on /account, passkey
 * sign-in and WebAuthn step-up, driven over HTTP by openid-client and a form browser, with a software
 * authenticator that can forge every field an attacker controls. The real-browser path is in
 * webauthn-browser.int.test.ts.
 */
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

const rpId = () => new URL(server.issuer).hostname;
const now = () => Math.floor(Date.now() / 1000) + server.clock.offset;

function optionsIn<T>(page: Page): T {
  const m = /<form\b[^>]*data-options="([^"]*)"/.exec(page.html);
  if (!m) throw new Error(`no WebAuthn options on the page:\n${page.html.slice(0, 1500)}`);
  return JSON.parse(decodeEntities(m[1]!)) as T;
}

const hasForm = (page: Page, action: string) => new RegExp(`<form[^>]*action="[^"]*${action}"`).test(page.html);

/** A software credential stored for the account as a registration would store it. */
async function storeCredential(accountId: string, options: ConstructorParameters<typeof SoftCredential>[2] = {}, label = 'Key') {
  const cred = new SoftCredential(rpId(), server.issuer, options);
  cred.userHandle = await createWebAuthnUsersRepo(server.app.stores.db).handleFor(accountId);
  await server.app.stores.factors.createWebAuthn(accountId, {
    label,
    credentialId: cred.idB64,
    publicKey: cred.cosePublicKey,
    signCount: cred.counter,
    transports: ['usb'],
    aaguid: '00000000-0000-0000-0000-000000000000',
    backupEligible: cred.backupEligible,
    backupState: cred.backupState,
    userVerifying: cred.userVerified,
    attested: false,
  });
  return cred;
}

async function authorize(browser: Browser, req: AuthRequest = {}) {
  const started = await startAuthorization(config, req);
  return { started, page: await browser.follow(started.url.toString()) };
}

async function passwordSession(email: string, password: string) {
  const browser = new Browser(server.issuer);
  const { started, page } = await authorize(browser);
  const cb = await browser.submit(page, '/password', { email, password });
  expect((await finish(config, started, cb.url)).claims()!.acr).toBe('aal1');
  return browser;
}

/** The level the session holds now, asked without any prompt (SPEC §2 rules 5 and 7). */
async function heldAcr(browser: Browser): Promise<string | undefined> {
  const { started, page } = await authorize(browser, { prompt: 'none' });
  expect(isCallback(page)).toBe(true);
  if (new URL(page.url).searchParams.get('error')) return undefined;
  return (await finish(config, started, page.url)).claims()!.acr as string;
}

const postAssertion = (browser: Browser, page: Page, assertion: unknown) => browser.submit(page, '/webauthn', { response: JSON.stringify(assertion) });

async function failures(accountId: string | undefined, reason: string) {
  const events = await server.app.stores.audit.list({ ...(accountId ? { subject: accountId } : {}), type: 'login.webauthn', limit: 200 });
  return events.filter((e) => e.outcome === 'failure' && e.reason === reason);
}

describe('registration on /account (SPEC §3, §4)', () => {
  it('signs in, adds a passkey with its label, AAGUID, transports, flags and counter, and issues recovery codes with the first factor', async () => {
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer);
    let page = await browser.follow('/account/keys/new?kind=passkey');
    // not signed in: through stepup's own /auth as the built-in client, then back to the page
    expect(hasForm(page, '/password')).toBe(true);
    page = await browser.submit(page, '/password', { email: user.email, password: user.password });
    expect(page.status).toBe(200);
    expect(page.html).toContain('Add a passkey');
    const options = optionsIn<CreationOptionsJSON & { authenticatorSelection: { residentKey: string; userVerification: string } }>(page);
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'required' });
    expect(Buffer.from(options.challenge, 'base64url').length).toBeGreaterThanOrEqual(16);

    const cred = new SoftCredential(rpId(), server.issuer, { userVerified: true });
    page = await browser.submit(page, '/account/keys', { response: JSON.stringify(cred.register(options)), label: 'Work laptop' });
    expect(page.html).toContain('Save your recovery codes');
    expect([...page.html.matchAll(/<li><code>/g)]).toHaveLength(10);

    const [factor] = await server.app.stores.factors.listForAccount(user.id);
    expect(factor).toMatchObject({ type: 'webauthn', label: 'Work laptop', status: 'active', webauthn: { backupEligible: false, userVerifying: true, attested: false, transports: ['internal'] } });
    const stored = await server.app.stores.factors.findWebAuthnCredential(cred.idB64);
    expect(stored).toMatchObject({ accountId: user.id, signCount: 0 });
    expect((await server.app.stores.audit.list({ subject: user.id, type: 'factor.enroll' }))[0]).toMatchObject({ outcome: 'success' });

    const account = await browser.follow('/account');
    expect(account.html).toContain('Work laptop');
    expect(account.html).toContain('Passkey');
    expect(account.html).toContain('Device-bound');
  });

  it('refuses a registration whose challenge was already used, and one from another origin', async () => {
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer);
    let page = await browser.follow('/account/keys/new?kind=security_key');
    page = await browser.submit(page, '/password', { email: user.email, password: user.password });
    const options = optionsIn<CreationOptionsJSON>(page);
    const evil = new SoftCredential(rpId(), 'https://evil.example', { userVerified: false });
    const refused = await browser.submit(page, '/account/keys', { response: JSON.stringify(evil.register(options)) });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('could not be verified');
    // the challenge was consumed by the refused attempt: a correct answer to it is refused too
    const good = new SoftCredential(rpId(), server.issuer, { userVerified: false });
    const again = await browser.submit(page, '/account/keys', { response: JSON.stringify(good.register(options)) });
    expect(again.status).toBe(400);
    expect(await server.app.stores.factors.listForAccount(user.id)).toHaveLength(0);
  });

  it('asks for a fresh verification at the account’s highest reachable level before adding a key (SPEC §4)', async () => {
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const browser = new Browser(server.issuer);
    let page = await browser.follow('/account');
    page = await browser.submit(page, '/password', { email: user.email, password: user.password });
    expect(page.html).toContain('Sign-in methods');
    // aal1 is not enough to add a factor to an account that reaches aal2: a step-up to aal2 first
    page = await browser.follow('/account/keys/new?kind=security_key');
    if (hasForm(page, '/password')) page = await browser.submit(page, '/password', { email: user.email, password: user.password });
    expect(hasForm(page, '/totp')).toBe(true);
    page = await browser.submit(page, '/totp', { code: await totpCodeAt(totp.secret, now()) });
    expect(page.html).toContain('Add a security key');
    const cred = new SoftCredential(rpId(), server.issuer, { userVerified: false });
    page = await browser.submit(page, '/account/keys', { response: JSON.stringify(cred.register(optionsIn(page))), label: 'YubiKey' });
    // enrollTotp (test support) issues no recovery codes, so this first key comes with them
    if (page.html.includes('Save your recovery codes')) page = await browser.submit(page, '/account');
    expect(page.html).toContain('YubiKey');
    expect(page.html).toContain('Security key');
  });
});

describe('passkey sign-in from the login page (SPEC §1, §2 rule 9)', () => {
  async function signInWithPasskey(cred: SoftCredential, req: AuthRequest = {}) {
    const browser = new Browser(server.issuer);
    const { started, page } = await authorize(browser, req);
    const options = optionsIn<RequestOptionsJSON>(page);
    // discoverable: no username, no credential list
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(options.userVerification).toBe('required');
    const cb = await postAssertion(browser, page, cred.assert(options));
    expect(isCallback(cb)).toBe(true);
    return { browser, tokens: await finish(config, started, cb.url) };
  }

  it('a device-bound passkey gives phrh with amr hwk, user, mfa in one tap', async () => {
    const user = await createUser(server.app);
    const cred = await storeCredential(user.id, { userVerified: true, backupEligible: false });
    const { tokens } = await signInWithPasskey(cred);
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(user.id);
    expect(claims.acr).toBe('phrh');
    expect([...(claims.amr as string[])].sort()).toEqual(['hwk', 'mfa', 'user']);
    expect(Math.abs((claims.auth_time as number) - now())).toBeLessThanOrEqual(5);
  });

  it('a synced passkey (backup eligible) gives phr with amr swk, user, mfa', async () => {
    const user = await createUser(server.app);
    const cred = await storeCredential(user.id, { userVerified: true, backupEligible: true });
    const { tokens } = await signInWithPasskey(cred, { acr_values: 'phrh phr' });
    const claims = tokens.claims()!;
    expect(claims.acr).toBe('phr');
    expect([...(claims.amr as string[])].sort()).toEqual(['mfa', 'swk', 'user']);
  });

  it('max_age=0 re-verifies a passkey session with that user’s own passkeys, and auth_time moves', async () => {
    const user = await createUser(server.app);
    const cred = await storeCredential(user.id, { userVerified: true, backupEligible: false });
    const { browser, tokens } = await signInWithPasskey(cred);
    const firstAuthTime = tokens.claims()!.auth_time as number;
    server.clock.offset += 5;
    try {
      const { started, page } = await authorize(browser, { max_age: 0, acr_values: 'phrh' });
      expect(page.html).toContain('Confirm it is you');
      const options = optionsIn<RequestOptionsJSON>(page);
      expect(options.allowCredentials!.map((c) => c.id)).toEqual([cred.idB64]);
      const cb = await postAssertion(browser, page, cred.assert(options));
      const claims = (await finish(config, started, cb.url)).claims()!;
      expect(claims.acr).toBe('phrh');
      expect(claims.auth_time as number).toBeGreaterThan(firstAuthTime);
    } finally {
      server.clock.offset -= 5;
    }
  });

  it('refuses a passkey sign-in without user verification, and one without userHandle', async () => {
    const user = await createUser(server.app);
    const cred = await storeCredential(user.id, { userVerified: true });
    const browser = new Browser(server.issuer);
    const { page } = await authorize(browser);
    cred.userVerified = false;
    const refused = await postAssertion(browser, page, cred.assert(optionsIn(page)));
    expect(refused.status).toBe(401);
    expect(isCallback(refused)).toBe(false);
    cred.userVerified = true;
    const noHandle = await postAssertion(browser, refused, cred.assert(optionsIn(refused), { userHandle: null }));
    expect(noHandle.status).toBe(401);
    expect(await failures(undefined, 'user_handle_mismatch')).not.toHaveLength(0);
  });
});

describe('WebAuthn as a step-up factor (SPEC §2 rule 3, §3)', () => {
  it('a password session asked for phr sees only the WebAuthn prompt; a security key without UV gives phr with amr pwd, hwk, user, mfa', async () => {
    const user = await createUser(server.app);
    await enrollTotp(server.app, user.id);
    const key = await storeCredential(user.id, { userVerified: false, counter: 7 });
    const browser = await passwordSession(user.email, user.password);
    const { started, page } = await authorize(browser, { acr_values: 'phr' });
    expect(hasForm(page, '/webauthn')).toBe(true);
    expect(page.html).toContain('Insert your security key');
    // only WebAuthn: no TOTP or recovery-code form, no link to them, no password
    expect(hasForm(page, '/totp')).toBe(false);
    expect(page.html).not.toContain('authenticator app');
    expect(page.html).not.toContain('recovery code');
    expect(page.html).not.toContain('current-password');
    const options = optionsIn<RequestOptionsJSON>(page);
    expect(options.allowCredentials!.map((c) => c.id)).toEqual([key.idB64]);

    const cb = await postAssertion(browser, page, key.assert(options));
    const claims = (await finish(config, started, cb.url)).claims()!;
    expect(claims.acr).toBe('phr');
    expect([...(claims.amr as string[])].sort()).toEqual(['hwk', 'mfa', 'pwd', 'user']);
    expect((await server.app.stores.factors.findWebAuthnCredential(key.idB64))!.signCount).toBe(8);
  });

  it('offers WebAuthn first for aal2 with a way back to the authenticator app', async () => {
    const user = await createUser(server.app);
    await enrollTotp(server.app, user.id);
    await storeCredential(user.id, { userVerified: false });
    const browser = await passwordSession(user.email, user.password);
    const { page } = await authorize(browser, { acr_values: 'aal2' });
    expect(hasForm(page, '/webauthn')).toBe(true);
    expect(page.html).toContain('Use your authenticator app instead');
    const uid = /action="\/interaction\/([^/"]+)\/webauthn"/.exec(page.html)![1]!;
    const totpPage = await browser.follow(`/interaction/${uid}?use=totp`);
    expect(hasForm(totpPage, '/totp')).toBe(true);
    expect(totpPage.html).toContain('Use your passkey or security key instead');
  });

  it('a user with TOTP only asked for phr gets unmet_authentication_requirements', async () => {
    const user = await createUser(server.app);
    await enrollTotp(server.app, user.id);
    const browser = await passwordSession(user.email, user.password);
    const { started, page } = await authorize(browser, { acr_values: 'phr' });
    expect(isCallback(page)).toBe(true);
    const params = new URL(page.url).searchParams;
    expect(params.get('error')).toBe('unmet_authentication_requirements');
    expect(params.get('state')).toBe(started.state);
    expect(params.get('iss')).toBe(server.issuer);
  });
});

describe('hostile assertions are rejected, audited, and leave the session level unchanged (SPEC §3)', () => {
  /** A password session of a user with a device-bound security key, on the WebAuthn page for phr. */
  async function atWebAuthnPage(options: { counter?: number } = {}) {
    const user = await createUser(server.app);
    const key = await storeCredential(user.id, { userVerified: false, counter: options.counter ?? 0 });
    const browser = await passwordSession(user.email, user.password);
    const { started, page } = await authorize(browser, { acr_values: 'phr' });
    expect(hasForm(page, '/webauthn')).toBe(true);
    return { user, key, browser, started, page };
  }

  async function expectRejected(browser: Browser, page: Page, assertion: unknown, accountId: string, reason: string) {
    const before = (await failures(accountId, reason)).length;
    const refused = await postAssertion(browser, page, assertion);
    expect(refused.status).toBe(401);
    expect(isCallback(refused)).toBe(false);
    expect(refused.html).toContain('role="alert"');
    expect((await failures(accountId, reason)).length).toBe(before + 1);
    expect(await heldAcr(browser)).toBe('aal1');
  }

  it('a replayed assertion (captured from an earlier ceremony)', async () => {
    const first = await atWebAuthnPage();
    const captured = first.key.assert(optionsIn(first.page));
    const ok = await postAssertion(first.browser, first.page, captured);
    expect(isCallback(ok)).toBe(true);
    // the same user's second session: the captured answer is bound to a consumed challenge
    const browser = await passwordSession(first.user.email, first.user.password);
    const { page } = await authorize(browser, { acr_values: 'phr' });
    await expectRejected(browser, page, captured, first.user.id, 'challenge_invalid');
  });

  it('an assertion posted twice to the same page (the challenge is single-use)', async () => {
    const { key, browser, page, user } = await atWebAuthnPage();
    const assertion = key.assert(optionsIn(page));
    const [a, b] = await Promise.all([postAssertion(browser, page, assertion), postAssertion(browser, page, assertion)]);
    const successes = [a, b].filter((p) => isCallback(p) || p.status === 200);
    expect(successes).toHaveLength(1);
    expect(await failures(user.id, 'challenge_invalid')).toHaveLength(1);
  });

  it('an assertion by another user’s credential', async () => {
    const { browser, page, user } = await atWebAuthnPage();
    const other = await createUser(server.app);
    const othersKey = await storeCredential(other.id, { userVerified: false });
    await expectRejected(browser, page, othersKey.assert(optionsIn(page)), user.id, 'credential_of_another_account');
  });

  it('an expired challenge (older than 5 minutes)', async () => {
    const { key, browser, page, user } = await atWebAuthnPage();
    const assertion = key.assert(optionsIn(page));
    server.clock.offset += 301;
    try {
      const before = (await failures(user.id, 'challenge_invalid')).length;
      const refused = await postAssertion(browser, page, assertion);
      expect(refused.status).toBe(401);
      expect((await failures(user.id, 'challenge_invalid')).length).toBe(before + 1);
    } finally {
      server.clock.offset -= 301;
    }
    expect(await heldAcr(browser)).toBe('aal1');
  });

  it('an assertion made for another origin', async () => {
    const { key, browser, page, user } = await atWebAuthnPage();
    await expectRejected(browser, page, key.assert(optionsIn(page), { origin: 'https://login.evil.example' }), user.id, 'wrong_origin');
  });

  it('a signature counter that did not increase', async () => {
    const { key, browser, page, user } = await atWebAuthnPage({ counter: 41 });
    await expectRejected(browser, page, key.assert(optionsIn(page), { counter: 12 }), user.id, 'counter_not_increased');
    expect((await server.app.stores.factors.findWebAuthnCredential(key.idB64))!.signCount).toBe(41);
  });

  it('a device-bound credential that now claims to be backup eligible', async () => {
    const { key, browser, page, user } = await atWebAuthnPage();
    await expectRejected(browser, page, key.assert(optionsIn(page), { backupEligible: true }), user.id, 'backup_eligibility_changed');
  });

  it('repeated failures lock the step out: a valid assertion is refused while locked, and the counter is not spent', async () => {
    const { key, browser, page, user } = await atWebAuthnPage({ counter: 3 });
    let current = page;
    const statuses: number[] = [];
    for (let i = 0; i < 8 && !statuses.includes(429); i++) {
      current = await postAssertion(browser, current, 'not json');
      statuses.push(current.status);
    }
    expect(statuses.at(-1)).toBe(429);
    expect(current.headers.get('retry-after')).toBeTruthy();
    const locked = await postAssertion(browser, current, key.assert(optionsIn(current)));
    expect(locked.status).toBe(429);
    expect(isCallback(locked)).toBe(false);
    expect((await server.app.stores.factors.findWebAuthnCredential(key.idB64))!.signCount).toBe(3);
    const audit = await server.app.stores.audit.list({ subject: user.id, type: 'login.webauthn', limit: 50 });
    expect(audit.map((e) => e.reason)).toEqual(expect.arrayContaining(['lockout_started', 'locked_out']));
  });

  it('a malformed response', async () => {
    const { browser, page, user } = await atWebAuthnPage();
    await expectRejected(browser, page, 'not json', user.id, 'malformed_response');
  });
});

describe('a passkey the server no longer knows (issue #15 item 6)', () => {
  it('the sign-in page says it is no longer registered and names its id for the signal API; a never-registered id gets the same words; a stale answer the generic refusal', async () => {
    const user = await createUser(server.app);
    const cred = await storeCredential(user.id, { userVerified: true, backupEligible: true }, 'Laptop passkey');
    const [factor] = await server.app.stores.factors.listForAccount(user.id);
    expect(await server.app.stores.factors.remove(factor!.id, user.id)).toBe(true); // as an admin's removal does

    const browser = new Browser(server.issuer);
    const { page } = await authorize(browser);
    const assertion = cred.assert(optionsIn<RequestOptionsJSON>(page));
    const refused = await postAssertion(browser, page, assertion);
    expect(refused.status).toBe(401);
    expect(isCallback(refused)).toBe(false);
    expect(refused.html).toContain('data-step="login"');
    expect(refused.html).toContain('That passkey is no longer registered here');
    expect(refused.html).toContain(`data-unknown-credential="${cred.idB64}" data-rp-id="${rpId()}"`);
    // nothing about the account it belonged to: no email, no name, no hint that one existed
    expect(refused.html).not.toContain(user.email);
    expect(refused.html).not.toContain('Laptop passkey');
    // the password field is not blamed for a passkey's refusal
    expect(refused.html).not.toContain('aria-invalid');
    expect(await failures(undefined, 'unknown_credential')).toEqual(expect.arrayContaining([expect.objectContaining({ reason: 'unknown_credential' })]));

    // the same answer again (its challenge is spent): the generic refusal, no id echoed
    const again = await postAssertion(browser, refused, assertion);
    expect(again.status).toBe(401);
    expect(again.html).not.toContain('data-unknown-credential');
    expect(again.html).not.toContain('no longer registered');

    // a never-registered credential id is just as unknown: the same words, so they reveal nothing about accounts
    const stranger = new SoftCredential(rpId(), server.issuer, { userVerified: true });
    stranger.userHandle = 'AAAA';
    const other = new Browser(server.issuer);
    const fresh = await authorize(other);
    const strangerPage = await postAssertion(other, fresh.page, stranger.assert(optionsIn<RequestOptionsJSON>(fresh.page)));
    const alert = (html: string) => /<p class="error" role="alert" id="step-error"[^>]*>[^<]*<\/p>/.exec(html)?.[0];
    expect(strangerPage.status).toBe(401);
    expect(alert(strangerPage.html)).toBe(alert(refused.html));
    expect(strangerPage.html).toContain(`data-unknown-credential="${stranger.idB64}"`);
  });
});

describe('/account changes (SPEC §4, §5)', () => {
  it('renames and removes a factor after a fresh verification; another user’s factor id finds nothing', async () => {
    const user = await createUser(server.app);
    await storeCredential(user.id, { userVerified: true }, 'Old name');
    const cred = await storeCredential(user.id, { userVerified: true }, 'Spare');
    const other = await createUser(server.app);
    await storeCredential(other.id, { userVerified: true }, 'Not yours');
    const othersFactor = (await server.app.stores.factors.listForAccount(other.id))[0]!;

    const browser = new Browser(server.issuer);
    let page = await browser.follow('/account');
    // a passkey account signs in with its passkey
    page = await postAssertion(browser, page, cred.assert(optionsIn(page)));
    expect(page.html).toContain('Old name');
    const mine = (await server.app.stores.factors.listForAccount(user.id)).find((f) => f.label === 'Old name')!;

    page = await browser.submit(page, `/account/factors/${mine.id}/rename`, { label: '<b>New</b> name' });
    expect(page.html).toContain('&lt;b&gt;New&lt;/b&gt; name');
    page = await browser.submit(page, `/account/factors/${mine.id}/remove`, {});
    expect(page.html).toContain('Removed.');
    expect(page.html).not.toContain('New&lt;/b&gt; name');
    expect(page.html).toContain('Spare');
    // a form of this account, aimed at another account's factor: 404, nothing removed
    const csrf = decodeEntities(/name="_csrf" value="([^"]+)"/.exec(page.html)![1]!);
    const res = await browser.request(`/account/factors/${othersFactor.id}/remove`, { method: 'POST', body: new URLSearchParams({ _csrf: csrf }) });
    expect(res.status).toBe(404);
    expect(await server.app.stores.factors.listForAccount(other.id)).toHaveLength(1);
    expect((await server.app.stores.audit.list({ subject: user.id, type: 'factor.remove' }))[0]).toMatchObject({ outcome: 'success' });
  });

  it('removing a factor ends the user’s other sessions and keeps this one (SPEC §4)', async () => {
    const user = await createUser(server.app);
    const keep = await storeCredential(user.id, { userVerified: true }, 'Keep');
    await storeCredential(user.id, { userVerified: true }, 'Lost phone');
    // another session of the same user, at the RP
    const elsewhere = new Browser(server.issuer);
    const { started, page: login } = await authorize(elsewhere);
    await finish(config, started, (await postAssertion(elsewhere, login, keep.assert(optionsIn(login)))).url);
    expect(await heldAcr(elsewhere)).toBe('phrh');

    const browser = new Browser(server.issuer);
    let page = await browser.follow('/account');
    page = await postAssertion(browser, page, keep.assert(optionsIn(page)));
    const lost = (await server.app.stores.factors.listForAccount(user.id)).find((f) => f.label === 'Lost phone')!;
    page = await browser.submit(page, `/account/factors/${lost.id}/remove`, {});
    expect(page.html).toContain('Removed.');

    expect(await heldAcr(elsewhere)).toBeUndefined(); // prompt=none: login_required, the session is gone
    const again = await browser.follow('/account');
    expect(again.html).toContain('Sign-in methods'); // this session stays signed in
    const audit = (await server.app.stores.audit.list({ subject: user.id, type: 'factor.remove' }))[0]!;
    expect(audit.details).toMatchObject({ sessionsEnded: 1 });
  });

  it('refuses a change without the CSRF token', async () => {
    const user = await createUser(server.app);
    await storeCredential(user.id, { userVerified: true }, 'Keep me');
    const factor = (await server.app.stores.factors.listForAccount(user.id))[0]!;
    const browser = new Browser(server.issuer);
    const res = await browser.request(`/account/factors/${factor.id}/remove`, { method: 'POST', body: new URLSearchParams({}) });
    expect(res.status).toBe(403);
    expect(await server.app.stores.factors.listForAccount(user.id)).toHaveLength(1);
  });
});

export type { Started };
