import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashRecoveryCode, newRecoveryCodes } from '../src/factors/recovery-codes/recovery-codes.js';
import { totpCodeAt } from '../src/factors/totp/totp.js';
import type { NotificationKind } from '../src/notifications/notification.js';
import { adminApiToken, adminSignIn, api, createAccountWithTotp } from './support/admin.js';
import { Browser, type Page } from './support/browser.js';
import { dropIsolation, newIsolation, testEnv } from './support/env.js';
import { runCli } from './support/process.js';
import { enrollTotp } from './support/factors.js';
import { createConfidentialClient, createUser, discover, passwordLogin, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';
import { testSmtp, type ReceivedMail, type TestSmtp } from './support/smtp.js';

/**
 * Issue #17 item 2: with SMTP_URL every notification is a mail (text and HTML, escaped) to the
 * account's address, through the outbox: an SMTP outage or a crash loses none and sends none twice.
 * A real SMTP server (smtp-server) on a loopback port receives them. Retries wait 100 ms here, not
 * minutes (the backoff is an option of the app).
 */
const iso = newIsolation();
const FAST = { pollMs: 50, backoff: () => 100 };
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0';
let smtp: TestSmtp;
let server: RunningServer;
let config: oidc.Configuration;

beforeAll(async () => {
  smtp = await testSmtp();
  server = await startServer(iso, { SMTP_URL: smtp.url, SMTP_FROM: 'stepup security <security@example.com>' }, { outbox: FAST });
  const rp = await createConfidentialClient(server.app);
  config = await discover(server.issuer, rp.clientId, rp.clientSecret);
});
afterAll(async () => {
  await server?.close();
  await smtp?.stop();
  await dropIsolation(iso);
});

const now = () => Math.floor(Date.now() / 1000) + server.clock.offset;
const kindOf = (m: ReceivedMail) => String(m.parsed.headers.get('x-stepup-notification') ?? '');
/** Waits for the mail of `kind` to `email`, then returns every mail of that kind to it. */
async function mailsOf(email: string, kind: NotificationKind | 'password_reset_link', within = 10_000): Promise<ReceivedMail[]> {
  const until = Date.now() + within;
  while (!smtp.to(email).some((m) => kindOf(m) === kind) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return smtp.to(email).filter((m) => kindOf(m) === kind);
}
const textOf = (m: ReceivedMail) => m.parsed.text ?? '';
const htmlOf = (m: ReceivedMail) => (typeof m.parsed.html === 'string' ? m.parsed.html : '');
const hasForm = (page: Page, action: string) => new RegExp(`<form[^>]*action="[^"]*${action}"`).test(page.html);

describe('one mail per notification kind (SMTP_URL)', () => {
  it('the person’s own changes on /account: factor added, recovery codes made, password changed, factor removed; with browser and network', async () => {
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer, { 'user-agent': FIREFOX });
    let page = await browser.follow('/account/totp/new');
    page = await browser.submit(page, '/password', { email: user.email, password: user.password });
    const key = /<code id="manual-key">([^<]+)<\/code>/.exec(page.html)![1]!.replace(/\s/g, '');
    page = await browser.submit(page, '/account/totp', { code: await totpCodeAt(key, now()) });
    expect(page.html).toContain('Save your recovery codes');

    server.clock.offset += 30; // the next TOTP step
    try {
      page = await browser.follow('/account/recovery-codes/new');
      page = await browser.submit(page, '/totp', { code: await totpCodeAt(key, now()) });
      page = await browser.submit(page, '/account/recovery-codes');
      page = await browser.follow('/account/password');
      page = await browser.submit(page, '/account/password', { password: 'a brand new passphrase', confirm: 'a brand new passphrase' });
      expect(page.url).toBe(`${server.issuer}/account?notice=password`);
      const [factor] = await server.app.stores.factors.listForAccount(user.id);
      expect(hasForm(page, `/account/factors/${factor!.id}/remove`)).toBe(true);
      page = await browser.submit(page, `/account/factors/${factor!.id}/remove`);
      expect(page.url).toBe(`${server.issuer}/account?notice=removed`);
    } finally {
      server.clock.offset -= 30;
    }

    const [added] = await mailsOf(user.email, 'factor_added');
    expect(added!.to).toEqual([user.email]);
    expect(added!.parsed.from?.text).toBe('"stepup security" <security@example.com>');
    expect(added!.parsed.subject).toBe('A sign-in method was added to your account');
    expect(textOf(added!)).toContain('The authenticator app "Authenticator app" was added to your account.');
    expect(textOf(added!)).toContain('From: Firefox 120 on Linux, network address 127.0.0.1');
    expect(textOf(added!)).toContain('If this was not you:');
    expect(textOf(added!)).toContain(`${server.issuer}/account`);
    expect(htmlOf(added!)).toContain('Firefox 120 on Linux');
    // the Message-ID is the outbox entry's id: the same on a resend after a crash
    expect(added!.parsed.messageId).toMatch(/^<[0-9a-f-]{36}@localhost>$/);

    const [codes] = await mailsOf(user.email, 'recovery_codes_regenerated');
    expect(textOf(codes!)).toContain('10 new recovery codes were made for your account');
    const [changed] = await mailsOf(user.email, 'password_changed');
    expect(textOf(changed!)).toContain('Your password was changed on your account page.');
    expect(textOf(changed!)).not.toContain('a brand new passphrase');
    const [removed] = await mailsOf(user.email, 'factor_removed');
    expect(textOf(removed!)).toContain('was removed from your account');
    // no recovery code, secret or password in any mail
    const all = smtp.to(user.email).map((m) => m.raw).join('\n');
    expect(all).not.toContain(key);
    for (const m of smtp.to(user.email)) expect(kindOf(m)).toMatch(/^[a-z_]+$/);
    expect(smtp.to(user.email)).toHaveLength(4);
  });

  it('sign-in: a recovery code used (with the number left), a lockout after wrong passwords', async () => {
    const user = await createUser(server.app);
    await enrollTotp(server.app, user.id);
    const codes = newRecoveryCodes();
    await server.app.stores.recoveryCodes.replace(user.id, codes.map(hashRecoveryCode));
    const browser = new Browser(server.issuer, { 'user-agent': FIREFOX });
    await passwordLogin(browser, await startAuthorization(config), user.email, user.password);
    const totpPage = await browser.follow((await startAuthorization(config, { acr_values: 'aal2' })).url.toString());
    const page = await browser.submit(totpPage, `/interaction/${/\/interaction\/([^/"]+)\/totp/.exec(totpPage.html)![1]}`, { use: 'recovery_code' });
    await browser.submit(page, '/recovery', { code: codes[0]! });
    const [used] = await mailsOf(user.email, 'recovery_code_used');
    expect(used!.parsed.subject).toBe('A recovery code was used to sign in');
    expect(textOf(used!)).toContain('9 unused codes remain');
    expect(textOf(used!)).toContain('Recovery codes left: 9');
    expect(used!.raw).not.toContain(codes[0]!);

    const other = new Browser(server.issuer);
    let login = await other.follow((await startAuthorization(config)).url.toString());
    for (let i = 0; i < 8; i++) login = await other.submit(login, '/password', { email: user.email, password: 'not it at all' });
    expect(login.status).toBe(429);
    const locks = await mailsOf(user.email, 'lockout');
    expect(locks).toHaveLength(1);
    expect(textOf(locks[0]!)).toContain('After several wrong attempts at your password, signing in with it is paused');
    expect(locks[0]!.raw).not.toContain('not it at all');
  });

  it('an administrator’s changes: authenticator app added, factor removed, factors reset, temporary password, account disabled; names escaped in HTML; the admin’s network not shown', async () => {
    const user = await createUser(server.app);
    const { token } = await adminApiToken(server.app, server.issuer);
    const label = 'Phone <b>"x"</b> & co';
    const imported = await api(server.issuer, token, 'POST', `/users/${user.id}/factors/totp`, { secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', label });
    expect(imported.status).toBe(201);
    expect((await api(server.issuer, token, 'DELETE', `/users/${user.id}/factors/${imported.json.id}`, { reason: 'lost' })).status).toBeLessThan(300);
    await enrollTotp(server.app, user.id);
    expect((await api(server.issuer, token, 'POST', `/users/${user.id}/factors/reset`, { reason: 'lost phone' })).status).toBeLessThan(300);

    const admin = await createAccountWithTotp(server.app, { admin: true });
    const ui = new Browser(server.issuer);
    await adminSignIn(ui, admin);
    let page = await ui.follow(`/admin/users/${user.id}/password`);
    page = await ui.submit(page, `/admin/users/${user.id}/password`, { password: 'temporary passphrase 9' });
    expect(page.html).toContain('Temporary password set');
    expect((await api(server.issuer, token, 'POST', `/users/${user.id}/disable`, { reason: 'compromised laptop' })).status).toBe(200);

    const [added] = await mailsOf(user.email, 'admin_added_totp');
    expect(textOf(added!)).toContain(`An administrator added the authenticator app "${label}" to your account.`);
    expect(htmlOf(added!)).toContain('&quot;Phone &lt;b&gt;&quot;x&quot;&lt;/b&gt; &amp; co&quot;');
    expect(htmlOf(added!)).not.toContain('<b>');
    expect(textOf(added!)).not.toContain('From:'); // the admin's browser and network are theirs
    const [removed] = await mailsOf(user.email, 'factor_removed');
    expect(textOf(removed!)).toContain('An administrator removed the authenticator app');
    const [reset] = await mailsOf(user.email, 'factors_reset');
    expect(textOf(reset!)).toContain('Sign-in methods removed: 1');
    const [temporary] = await mailsOf(user.email, 'temporary_password_set');
    expect(textOf(temporary!)).toContain('temporary password');
    expect(temporary!.raw).not.toContain('temporary passphrase 9');
    const [disabled] = await mailsOf(user.email, 'account_disabled');
    expect(disabled!.parsed.subject).toBe('Your account was disabled');
    expect(disabled!.raw).not.toContain('compromised laptop');
    expect(smtp.to(user.email)).toHaveLength(5);
  });

  it('the command line: `stepup user set-password` tells the person; the running server mails it', async () => {
    const user = await createUser(server.app);
    const env = testEnv(iso, server.issuer, { SMTP_URL: smtp.url });
    const set = await runCli(['user', 'set-password', '--email', user.email], env, 'an operator chose this one\n');
    expect(set.code).toBe(0);
    const temporary = await runCli(['user', 'set-password', '--email', user.email, '--must-change'], env, 'and then a temporary one\n');
    expect(temporary.code).toBe(0);
    const [byAdmin] = await mailsOf(user.email, 'password_set_by_admin');
    expect(textOf(byAdmin!)).toContain('An administrator set a new password for your account.');
    expect(byAdmin!.raw).not.toContain('an operator chose this one');
    expect(await mailsOf(user.email, 'temporary_password_set')).toHaveLength(1);
  });

  it('forgot password: the link arrives by mail and works once; the outbox never holds it in plaintext; the reset is notified', async () => {
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer);
    await browser.submit(await browser.follow('/password/forgot'), '/password/forgot', { email: user.email });
    const [mail] = await mailsOf(user.email, 'password_reset_link');
    expect(mail!.parsed.subject).toBe('Reset your password');
    const link = /(http:\/\/localhost:\d+\/password\/reset\?token=[A-Za-z0-9_-]{43})/.exec(textOf(mail!))![1]!;
    expect(htmlOf(mail!)).toContain(`href="${link}"`);
    const token = new URL(link).searchParams.get('token')!;
    // delivered: the sealed copy is erased; never anywhere as plaintext (the mark follows the mail server's answer)
    let rows: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 200 && rows[0]?.status !== 'sent'; i++) {
      if (i) await new Promise((r) => setTimeout(r, 20));
      rows = await server.app.stores.db('outbox').where({ account_id: user.id });
    }
    expect(rows).toEqual([expect.objectContaining({ kind: 'password_reset_link', status: 'sent', sealed: null })]);
    expect(JSON.stringify(rows)).not.toContain(token);

    const form = await browser.follow(link);
    const done = await browser.submit(form, '/password/reset', { password: 'a brand new passphrase', confirm: 'a brand new passphrase' });
    expect(done.html).toContain('data-reset="done"');
    expect((await browser.follow(link)).html).toContain('data-reset="expired"');
    const [reset] = await mailsOf(user.email, 'password_reset');
    expect(textOf(reset!)).toContain('Your password was changed with a password reset link.');
  });
});

describe('the outbox: outages and crashes lose no notice and send none twice', () => {
  it('with the SMTP server down, notices wait in the outbox (retried with backoff) and are delivered once it is back', async () => {
    const down = await testSmtp({ started: false });
    const isoDown = newIsolation();
    const app = await startServer(isoDown, { SMTP_URL: down.url }, { outbox: FAST });
    try {
      const user = await createUser(app.app);
      const { token } = await adminApiToken(app.app, app.issuer);
      expect((await api(app.issuer, token, 'POST', `/users/${user.id}/disable`, {})).status).toBe(200);
      // retried, not lost
      let rows: Array<{ status: string; attempts: number; last_error: string | null }> = [];
      for (let i = 0; i < 100 && (rows[0]?.attempts ?? 0) < 2; i++) {
        await new Promise((r) => setTimeout(r, 50));
        rows = await app.app.stores.db('outbox').where({ account_id: user.id });
      }
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: 'pending' });
      expect(rows[0]!.attempts).toBeGreaterThanOrEqual(2);
      expect(rows[0]!.last_error).toMatch(/ECONNREFUSED/);
      expect(down.mails).toHaveLength(0);

      await down.start();
      await down.waitFor(1);
      await new Promise((r) => setTimeout(r, 300));
      expect(down.mails).toHaveLength(1);
      expect(down.mails[0]!.to).toEqual([user.email]);
      for (let i = 0; i < 200 && (await app.app.stores.db('outbox').where({ account_id: user.id }).first()).status !== 'sent'; i++) await new Promise((r) => setTimeout(r, 20));
      expect((await app.app.stores.db('outbox').where({ account_id: user.id }).first()).status).toBe('sent');
    } finally {
      await app.close();
      await down.stop();
      await dropIsolation(isoDown);
    }
  });

  it('a crash between the change and the delivery: the next instance delivers every notice exactly once, the reset link too', async () => {
    const mailbox = await testSmtp();
    const isoCrash = newIsolation();
    // the first instance "crashes" before its worker ever runs
    const first = await startServer(isoCrash, { SMTP_URL: mailbox.url }, { outbox: { ...FAST, start: false } });
    const user = await createUser(first.app);
    const { token } = await adminApiToken(first.app, first.issuer);
    expect((await api(first.issuer, token, 'POST', `/users/${user.id}/disable`, {})).status).toBe(200);
    expect((await api(first.issuer, token, 'POST', `/users/${user.id}/enable`, {})).status).toBe(200);
    const browser = new Browser(first.issuer);
    await browser.submit(await browser.follow('/password/forgot'), '/password/forgot', { email: user.email });
    let rows: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 100 && rows.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
      rows = await first.app.stores.db('outbox').where({ account_id: user.id }).orderBy('created_at');
    }
    expect(rows.map((r) => [r.kind, r.status])).toEqual([
      ['account_disabled', 'pending'],
      ['password_reset_link', 'pending'],
    ]);
    // at rest the link is sealed: neither the payload nor the sealed column holds it
    expect(String(rows[1]!.sealed)).toMatch(/^v1\./);
    expect(JSON.stringify(rows)).not.toMatch(/token=/);
    await first.close();
    expect(mailbox.mails).toHaveLength(0);

    // two instances start (a restart and a second replica): SKIP LOCKED gives each entry to one of them
    const second = await startServer(isoCrash, { SMTP_URL: mailbox.url }, { outbox: FAST });
    const third = await startServer(isoCrash, { SMTP_URL: mailbox.url }, { outbox: FAST });
    try {
      await mailbox.waitFor(2);
      await new Promise((r) => setTimeout(r, 500));
      expect(mailbox.mails.map(kindOf).sort()).toEqual(['account_disabled', 'password_reset_link']);
      expect(new Set(mailbox.mails.map((m) => m.parsed.messageId)).size).toBe(2);
      const link = /(http:\/\/localhost:\d+\/password\/reset\?token=[A-Za-z0-9_-]{43})/.exec(textOf(mailbox.mails.find((m) => kindOf(m) === 'password_reset_link')!))![1]!;
      // the link was made by the first instance: it works on the next one (same database), once
      const reset = new Browser(second.issuer);
      const form = await reset.follow(link.replace(first.issuer, second.issuer));
      expect(form.html).toContain('autocomplete="new-password"');
    } finally {
      await second.close();
      await third.close();
      await mailbox.stop();
      await dropIsolation(isoCrash);
    }
  });

  it('a reset link not mailed before it expires is dropped, never mailed late', async () => {
    const mailbox = await testSmtp();
    const isoLate = newIsolation();
    const first = await startServer(isoLate, { SMTP_URL: mailbox.url }, { outbox: { ...FAST, start: false } });
    const user = await createUser(first.app);
    const browser = new Browser(first.issuer);
    await browser.submit(await browser.follow('/password/forgot'), '/password/forgot', { email: user.email });
    for (let i = 0; i < 100 && !(await first.app.stores.db('outbox').where({ account_id: user.id }).first()); i++) await new Promise((r) => setTimeout(r, 20));
    await first.close();
    // the next instance starts 16 minutes later (its clock moved): the link's 15 minutes are over
    const later = await startServer(isoLate, { SMTP_URL: mailbox.url }, { outbox: { ...FAST, clock: () => new Date(Date.now() + 16 * 60_000) } });
    try {
      let row: Record<string, unknown> | undefined;
      for (let i = 0; i < 200 && row?.status !== 'dead'; i++) {
        if (i) await new Promise((r) => setTimeout(r, 20));
        row = await later.app.stores.db('outbox').where({ account_id: user.id }).first();
      }
      expect(row).toMatchObject({ kind: 'password_reset_link', status: 'dead', sealed: null, last_error: 'expired before it could be delivered' });
      expect(mailbox.mails).toHaveLength(0);
    } finally {
      await later.close();
      await mailbox.stop();
      await dropIsolation(isoLate);
    }
  });

  it('many notices and two instances polling at once: every notice is mailed exactly once', async () => {
    const mailbox = await testSmtp();
    const isoMany = newIsolation();
    const a = await startServer(isoMany, { SMTP_URL: mailbox.url }, { outbox: FAST });
    const b = await startServer(isoMany, { SMTP_URL: mailbox.url }, { outbox: FAST });
    try {
      const { token } = await adminApiToken(a.app, a.issuer);
      const users = await Promise.all(Array.from({ length: 12 }, () => createUser(a.app)));
      // written through one instance (its tokens are its issuer's); both workers compete for the entries
      await Promise.all(users.map((u) => api(a.issuer, token, 'POST', `/users/${u.id}/disable`, {})));
      await mailbox.waitFor(12);
      await new Promise((r) => setTimeout(r, 500));
      expect(mailbox.mails).toHaveLength(12);
      expect(new Set(mailbox.mails.map((m) => m.to[0])).size).toBe(12);
    } finally {
      await a.close();
      await b.close();
      await mailbox.stop();
      await dropIsolation(isoMany);
    }
  });
});
