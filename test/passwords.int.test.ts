import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashPassword } from '../src/factors/password/password.js';
import { Browser, type Page } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, passwordLogin, startAuthorization } from './support/rp.js';
import { capturingNotices, startServer, type RunningServer } from './support/server.js';

/** Issue #15 item 4: passwords people can change, reset and be made to change. */
const iso = newIsolation();
const notices = capturingNotices();
let server: RunningServer; // with email delivery (SMTP_URL): forgot-password links
let adminOnly: RunningServer; // without: an administrator resets passwords
const NEW_PASSWORD = 'a brand new passphrase';

beforeAll(async () => {
  server = await startServer(iso, { SMTP_URL: 'smtp://127.0.0.1:1' }, { sendNotice: notices.send });
  adminOnly = await startServer(iso);
});
afterAll(async () => {
  await server?.close();
  await adminOnly?.close();
  await dropIsolation(iso);
});

const isTotpPage = (p: Page) => p.html.includes('autocomplete="one-time-code"');
const withoutVaryingParts = (html: string) => html.replace(/name="_csrf" value="[^"]*"/g, '').replace(/<strong>[^<]*<\/strong>/g, '');

/** Signs into /account (password, then TOTP if asked), following any step-up a page needs. */
async function through(browser: Browser, page: Page, who: { email: string; password: string; totp?: { code(epoch?: number): Promise<string> } }, epoch?: number): Promise<Page> {
  for (let i = 0; i < 4; i++) {
    if (page.html.includes('autocomplete="current-password"')) page = await browser.submit(page, '/password', { email: who.email, password: who.password });
    else if (isTotpPage(page) && who.totp) page = await browser.submit(page, '/totp', { code: await who.totp.code(epoch) });
    else return page;
  }
  return page;
}

describe('change password on /account', () => {
  it('asks for a fresh step-up at the highest level, ends the other sessions, keeps the factors, notifies nothing secret', async () => {
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const now = Math.floor(Date.now() / 1000);
    // another browser holds a session (an RP sign-in with the password)
    const rp = await createConfidentialClient(server.app);
    const config = await discover(server.issuer, rp.clientId, rp.clientSecret);
    const other = new Browser(server.issuer);
    const started = await startAuthorization(config);
    await finish(config, started, (await passwordLogin(other, started, user.email, user.password)).url);
    expect((await other.follow('/account')).html).toContain('data-action="change-password"');

    const browser = new Browser(server.issuer);
    const form = await through(browser, await browser.follow('/account/password'), { ...user, totp }, now - 30);
    expect(form.url).toBe(`${server.issuer}/account/password`);
    expect(form.html).toContain('autocomplete="new-password"');
    // the common-passwords list, and no composition rules
    const refused = await browser.submit(form, '/account/password', { password: 'baseball', confirm: 'baseball' });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('most common passwords');
    expect(refused.html).toContain('aria-invalid="true"');
    const mismatch = await browser.submit(form, '/account/password', { password: NEW_PASSWORD, confirm: `${NEW_PASSWORD}x` });
    expect(mismatch.html).toContain('not the same');

    const done = await browser.submit(form, '/account/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(done.url).toBe(`${server.issuer}/account?notice=password`);
    expect(done.html).toContain('Your password was changed');
    // this browser stays signed in, the other one is signed out
    expect((await browser.follow('/account')).html).toContain('data-action="change-password"');
    expect((await other.follow('/account')).html).toContain('autocomplete="current-password"');
    // the factor is kept; the old password no longer works, the new one does
    expect((await server.app.stores.factors.listForAccount(user.id)).map((f) => f.id)).toEqual([totp.factorId]);
    const again = await startAuthorization(config);
    expect(isCallback(await passwordLogin(new Browser(server.issuer), again, user.email, user.password))).toBe(false);
    const ok = await startAuthorization(config);
    expect(isCallback(await passwordLogin(new Browser(server.issuer), ok, user.email, NEW_PASSWORD))).toBe(true);
    const [event] = await server.app.stores.audit.list({ subject: user.id, type: 'password.change' });
    expect(event).toMatchObject({ outcome: 'success', details: { sessionsEnded: 1 } });
  });
});

describe('forgot password (SMTP_URL set)', () => {
  it('a link works once; an unknown email gets the same answer; a reset account still needs its second factor for aal2', async () => {
    const user = await createUser(server.app);
    await enrollTotp(server.app, user.id);
    const browser = new Browser(server.issuer);
    const ask = async (email: string) => browser.submit(await browser.follow('/password/forgot'), '/password/forgot', { email });

    const known = await ask(user.email);
    const notice = await notices.next();
    expect(notice).toMatchObject({ kind: 'password_reset', accountId: user.id, email: user.email });
    const unknown = await ask('nobody-here@example.com');
    expect(unknown.status).toBe(known.status);
    expect(withoutVaryingParts(unknown.html)).toBe(withoutVaryingParts(known.html));
    await new Promise((r) => setTimeout(r, 200));
    expect(notices.sent).toHaveLength(1); // nothing sent for the unknown address

    // only a hash of the token is stored
    const token = new URL(notice.link).searchParams.get('token')!;
    const rows = (await server.app.stores.db('password_resets').where({ account_id: user.id })) as Array<{ token_hash: string }>;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).not.toContain(token);

    const form = await browser.follow(notice.link);
    expect(form.html).toContain('autocomplete="new-password"');
    const weak = await browser.submit(form, '/password/reset', { password: 'password1', confirm: 'password1' });
    expect(weak.html).toContain('most common passwords'); // a refused password does not use the link
    const done = await browser.submit(form, '/password/reset', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(done.html).toContain('data-reset="done"');
    // once: the same link again is refused, by GET and by POST
    expect((await browser.follow(notice.link)).html).toContain('data-reset="expired"');
    const replay = await browser.submit(form, '/password/reset', { password: 'another fine passphrase', confirm: 'another fine passphrase' });
    expect(replay.html).toContain('data-reset="expired"');

    // the second factor is still asked for aal2 after the reset
    const rp = await createConfidentialClient(server.app);
    const config = await discover(server.issuer, rp.clientId, rp.clientSecret);
    const started = await startAuthorization(config, { acr_values: 'aal2' });
    const next = await passwordLogin(new Browser(server.issuer), started, user.email, NEW_PASSWORD);
    expect(isCallback(next)).toBe(false);
    expect(isTotpPage(next)).toBe(true);
    expect((await server.app.stores.factors.listForAccount(user.id)).length).toBe(1);
  });

  it('a link expires after 15 minutes', async () => {
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer);
    await browser.submit(await browser.follow('/password/forgot'), '/password/forgot', { email: user.email });
    const notice = await notices.next();
    expect(notice.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(15 * 60 * 1000 + 5000);
    server.clock.offset = 15 * 60 + 1;
    try {
      expect((await browser.follow(notice.link)).html).toContain('data-reset="expired"');
    } finally {
      server.clock.offset = 0;
    }
  });

  it('requests are rate limited per network, links per email address', async () => {
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer); // every test request comes from 127.0.0.1: this test runs last of the forgot-password ones
    const before = notices.sent.length;
    let last: Page | undefined;
    for (let i = 0; i < 12; i++) last = await browser.submit(await browser.follow('/password/forgot'), '/password/forgot', { email: user.email });
    expect(last!.status).toBe(429);
    await new Promise((r) => setTimeout(r, 300));
    expect(notices.sent.length - before).toBe(3);
  });
});

describe('without SMTP_URL', () => {
  it('forgot-password says an administrator resets passwords and sends nothing', async () => {
    const browser = new Browser(adminOnly.issuer);
    const page = await browser.follow('/password/forgot');
    expect(page.html).toContain('Your administrator resets passwords');
    expect(page.html).not.toContain('action="/password/forgot"');
  });
});

describe('must change the password at next sign-in', () => {
  it('after the password, a new one is asked before anything else; then the sign-in goes on (second factor included)', async () => {
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    await server.app.stores.accounts.setPassword(user.id, await hashPassword('temporary passphrase 1'), { changeRequired: true });
    const rp = await createConfidentialClient(server.app);
    const config = await discover(server.issuer, rp.clientId, rp.clientSecret);
    const browser = new Browser(server.issuer);
    const started = await startAuthorization(config, { acr_values: 'aal2' });
    const asked = await passwordLogin(browser, started, user.email, 'temporary passphrase 1');
    expect(asked.html).toContain('data-step="new-password"');
    const uid = new URL(asked.url).pathname.split('/')[2]!;
    // no way round it: the interaction's other pages lead back here
    expect((await browser.follow(`/interaction/${uid}`)).html).toContain('data-step="new-password"');
    const weak = await browser.submit(asked, '/new-password', { password: 'football', confirm: 'football' });
    expect(weak.html).toContain('most common passwords');
    const next = await browser.submit(asked, '/new-password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    // the password change does not stand in for the second factor
    expect(isTotpPage(next)).toBe(true);
    const done = await browser.submit(next, '/totp', { code: await totp.code() });
    expect((await finish(config, started, done.url)).claims()!.acr).toBe('aal2');
    expect((await server.app.stores.accounts.findById(user.id))!.passwordChangeRequired).toBe(false);
    const fresh = await startAuthorization(config);
    expect(isCallback(await passwordLogin(new Browser(server.issuer), fresh, user.email, NEW_PASSWORD))).toBe(true);
  });
});
