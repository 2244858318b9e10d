import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashRecoveryCode } from '../src/factors/recovery-codes/recovery-codes.js';
import { totpCodeAt } from '../src/factors/totp/totp.js';
import { Browser, findForm, type Page } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createUser } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/** `/account` (SPEC §5): adding an authenticator app and making new recovery codes, each after a fresh verification (SPEC §4). */
const iso = newIsolation();
let server: RunningServer;

beforeAll(async () => {
  server = await startServer(iso);
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

const now = () => Math.floor(Date.now() / 1000) + server.clock.offset;
const hasForm = (page: Page, action: string) => new RegExp(`<form[^>]*action="[^"]*${action}"`).test(page.html);
const codesOn = (page: Page) => [...page.html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]!);

async function signedInBrowser(email: string, password: string, path = '/account') {
  const browser = new Browser(server.issuer);
  const login = await browser.follow(path);
  expect(hasForm(login, '/password')).toBe(true);
  return { browser, page: await browser.submit(login, '/password', { email, password }) };
}

const TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

describe('adding an authenticator app on /account', () => {
  it('shows the QR code and key, refuses a wrong code (audited), confirms with a right one and issues recovery codes', async () => {
    const user = await createUser(server.app);
    const { browser, page: start } = await signedInBrowser(user.email, user.password, '/account/totp/new');
    expect(start.html).toContain('Add an authenticator app');
    expect(start.html).toMatch(/<img class="qr" src="data:image\/svg\+xml;base64,/);
    expect(start.html).toMatch(/autocomplete="one-time-code" inputmode="numeric"/);
    const key = /<code id="manual-key">([^<]+)<\/code>/.exec(start.html)![1]!.replace(/\s/g, '');

    const wrong = await browser.submit(start, '/account/totp', { code: '000000' === (await totpCodeAt(key, now())) ? '111111' : '000000' });
    expect(wrong.status).toBe(400);
    expect(wrong.html).toContain('That code did not match');
    expect(await server.app.stores.factors.listForAccount(user.id)).toHaveLength(0);
    const failures = await server.app.stores.audit.list({ subject: user.id, type: 'factor.enroll' });
    expect(failures[0]).toMatchObject({ outcome: 'failure', reason: 'bad_code' });

    const done = await browser.submit(wrong, '/account/totp', { code: await totpCodeAt(key, now()) });
    expect(done.html).toContain('Save your recovery codes');
    expect(codesOn(done)).toHaveLength(10);
    const factors = await server.app.stores.factors.listForAccount(user.id);
    expect(factors).toEqual([expect.objectContaining({ type: 'totp', status: 'active' })]);
    // the secret is sealed at rest
    const row = await server.app.stores.db('factors').where({ id: factors[0]!.id }).first<{ secret_sealed: string }>();
    expect(row.secret_sealed).not.toContain(key);

    const account = await browser.submit(done, '/account');
    expect(account.html).toContain('Your new sign-in method is ready.');
    expect(account.html).toContain('Authenticator app');
    expect(account.html).toContain('10 unused recovery codes');
  });

  it('locks out after repeated wrong codes: a right code is refused while locked (SPEC §3 rate limits)', async () => {
    const user = await createUser(server.app);
    const { browser, page: start } = await signedInBrowser(user.email, user.password, '/account/totp/new');
    const key = /<code id="manual-key">([^<]+)<\/code>/.exec(start.html)![1]!.replace(/\s/g, '');
    const right = await totpCodeAt(key, now());
    const wrong = right === '000000' ? '111111' : '000000';
    let page = start;
    const statuses: number[] = [];
    for (let i = 0; i < 8 && !statuses.includes(429); i++) {
      page = await browser.submit(page, '/account/totp', { code: wrong });
      statuses.push(page.status);
    }
    expect(statuses.at(-1)).toBe(429);
    expect(page.headers.get('retry-after')).toBeTruthy();
    expect(page.html).toContain('Too many attempts');
    const locked = await browser.submit(page, '/account/totp', { code: right });
    expect(locked.status).toBe(429);
    expect(await server.app.stores.factors.listForAccount(user.id)).toHaveLength(0);
    const audit = await server.app.stores.audit.list({ subject: user.id, type: 'factor.enroll' });
    expect(audit.map((e) => e.reason)).toEqual(expect.arrayContaining(['lockout_started', 'locked_out']));
  });

  it('a setup of another account cannot be confirmed with this session', async () => {
    const victim = await createUser(server.app);
    const pending = await server.app.stores.factors.createPendingTotp(victim.id, 'Authenticator app', TOTP_SECRET);
    const user = await createUser(server.app);
    const { browser, page } = await signedInBrowser(user.email, user.password, '/account/totp/new');
    const res = await browser.submit(page, '/account/totp', { factorId: pending.id, code: await totpCodeAt(TOTP_SECRET, now()) });
    expect(res.status).toBe(400);
    expect((await server.app.stores.factors.listForAccount(victim.id, { includePending: true }))[0]!.status).toBe('pending');
  });
});

describe('new recovery codes on /account', () => {
  it('need a fresh second factor, replace every old code, and are audited', async () => {
    const user = await createUser(server.app);
    const { browser, page: start } = await signedInBrowser(user.email, user.password, '/account/totp/new');
    const key = /<code id="manual-key">([^<]+)<\/code>/.exec(start.html)![1]!.replace(/\s/g, '');
    const first = await browser.submit(start, '/account/totp', { code: await totpCodeAt(key, now()) });
    const oldCodes = codesOn(first);
    let page = await browser.submit(first, '/account');

    // the account now reaches aal2, and this session verified only the password: a step-up first
    server.clock.offset += 30; // the next TOTP time step (each is accepted once); kept for the rest of the test
    try {
      // issue #15: the link leads to a confirmation first, after the step-up
      page = await browser.follow('/account/recovery-codes/new');
      expect(hasForm(page, '/totp')).toBe(true);
      page = await browser.submit(page, '/totp', { code: await totpCodeAt(key, now()) });
      expect(page.html).toContain('the old ones stop working at once');
      page = await browser.submit(page, '/account/recovery-codes');
      // the page offers a download that works without JavaScript, and copy/print by a static script
      expect(page.html).toMatch(/href="data:text\/plain;charset=utf-8,[^"]+" download="stepup-recovery-codes.txt"/);
      expect(page.html).toContain('<script src="/static/recovery-codes.js" defer></script>');
    } finally {
      server.clock.offset -= 30;
    }
    const newCodes = codesOn(page);
    expect(newCodes).toHaveLength(10);
    expect(newCodes.some((c) => oldCodes.includes(c))).toBe(false);
    expect(await server.app.stores.recoveryCodes.consume(user.id, hashRecoveryCode(oldCodes[0]!))).toBe(false);
    expect(await server.app.stores.recoveryCodes.remaining(user.id)).toBe(10);
    const audit = await server.app.stores.audit.list({ subject: user.id, type: 'recovery_codes.issued' });
    expect(audit[0]).toMatchObject({ outcome: 'success', reason: 'regenerated' });
  });
});

describe('signing in to /account through stepup itself (built-in client)', () => {
  it('refuses a callback it did not start, and destroys the code it receives unredeemed', async () => {
    const stranger = new Browser(server.issuer);
    const forged = await stranger.follow('/account/callback?state=guess&code=abc');
    expect(forged.status).toBe(400);
    expect(forged.html).toContain('Sign-in expired');

    const user = await createUser(server.app);
    const browser = new Browser(server.issuer);
    const login = await browser.follow('/account');
    // the password post redirects through oidc-provider's resume to the callback: stop there to see the code
    let res = await browser.request(findFormAction(login), { method: 'POST', body: new URLSearchParams({ ...hiddenFields(login), email: user.email, password: user.password }) });
    while (res.status >= 300 && res.status < 400 && !res.headers.get('location')!.includes('/account/callback')) {
      res = await browser.request(new URL(res.headers.get('location')!, res.url).toString());
    }
    const callback = new URL(res.headers.get('location')!, res.url);
    const code = callback.searchParams.get('code')!;
    expect(code).toBeTruthy();
    const page = await browser.follow(callback.toString());
    expect(page.html).toContain('Sign-in methods');
    expect(await server.app.provider.AuthorizationCode.find(code)).toBeUndefined();
  });
});

function findFormAction(page: Page): string {
  return new URL(findForm(page.html, '/password').action, page.url).toString();
}
function hiddenFields(page: Page): Record<string, string> {
  return findForm(page.html, '/password').hidden;
}

describe('CSRF on every /account form (SPEC: CSRF protection on every form)', () => {
  it('a signed-in post without the form token is refused and changes nothing', async () => {
    const user = await createUser(server.app);
    const { browser } = await signedInBrowser(user.email, user.password);
    const forms = [
      '/account/totp',
      '/account/keys',
      '/account/recovery-codes',
      '/account/password',
      '/account/factors/00000000-0000-4000-8000-000000000000/rename',
      '/account/factors/00000000-0000-4000-8000-000000000000/remove',
      '/account/devices/00000000-0000-4000-8000-000000000000/forget',
      '/account/sessions/revoke',
    ];
    for (const path of forms) {
      const res = await browser.request(path, { method: 'POST', body: new URLSearchParams({ code: '123456', password: 'a new long passphrase', label: 'x' }) });
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
    // still signed in: "sign out everywhere" did not run
    expect((await browser.follow('/account')).html).toContain(user.email);
    expect(await server.app.stores.audit.list({ subject: user.id, type: 'sessions.sign_out_everywhere' })).toHaveLength(0);
  });
});
