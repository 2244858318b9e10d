import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { adminSignIn, createAccountWithTotp } from './support/admin.js';
import { storeAuditRow } from './support/audit.js';
import { Browser, findForm } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createConfidentialClient, discover, finish, isCallback, passwordLogin, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/** The admin pages (issue #5) with the form browser: roles, step-up, CSRF, escaping, ids. */
const iso = newIsolation();
let server: RunningServer;

beforeAll(async () => {
  server = await startServer(iso);
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

const XSS_NAME = '<script>alert(1)</script>';
const XSS_LABEL = '"><img src=x onerror=alert(1)>';

/** Every admin page and form of a given user, factor and client. */
const adminPages = (userId: string, factorId: string, clientId: string) => ({
  get: [
    '/admin',
    '/admin/users',
    '/admin/users?q=a&page=2',
    '/admin/users/new',
    `/admin/users/${userId}`,
    `/admin/users/${userId}/factors/${factorId}/remove`,
    `/admin/users/${userId}/reset`,
    `/admin/users/${userId}/disable`,
    `/admin/users/${userId}/password`,
    `/admin/users/${userId}/devices`,
    `/admin/users/${userId}/sign-ins`,
    `/admin/users/${userId}/sign-ins/00000000-0000-4000-8000-000000000000`,
    '/admin/outbox',
    '/admin/clients',
    '/admin/clients/new',
    `/admin/clients/${clientId}`,
    `/admin/clients/${clientId}/rotate`,
    `/admin/clients/${clientId}/delete`,
    '/admin/audit',
    `/admin/audit?subject=${userId}`,
    '/admin/audit/export?format=csv',
    '/admin/audit/export?format=json',
  ],
  post: [
    '/admin/users',
    `/admin/users/${userId}/factors/${factorId}/remove`,
    `/admin/users/${userId}/reset`,
    `/admin/users/${userId}/disable`,
    `/admin/users/${userId}/enable`,
    `/admin/users/${userId}/sessions/revoke`,
    `/admin/users/${userId}/sessions/x-session-uid/end`,
    `/admin/users/${userId}/password/require-change`,
    `/admin/users/${userId}/password`,
    `/admin/users/${userId}/devices/00000000-0000-4000-8000-000000000000/forget`,
    `/admin/users/${userId}/devices/forget`,
    '/admin/outbox/00000000-0000-4000-8000-000000000000/retry',
    '/admin/clients',
    `/admin/clients/${clientId}`,
    `/admin/clients/${clientId}/rotate`,
    `/admin/clients/${clientId}/delete`,
  ],
});

describe('who may see the admin pages', () => {
  it('sends an anonymous browser to sign in through /auth as stepup-admin at aal2', async () => {
    const page = await new Browser(server.issuer).request('/admin/users');
    expect(page.status).toBe(302);
    const location = new URL(page.headers.get('location')!, server.issuer);
    expect(location.pathname).toBe('/auth');
    expect(location.searchParams.get('client_id')).toBe('stepup-admin');
    expect(location.searchParams.get('acr_values')).toBe('aal2');
  });

  it('a signed-in non-admin gets 403 on every admin page and form; nothing changes', async () => {
    const victim = await createAccountWithTotp(server.app);
    const factor = (await server.app.stores.factors.listForAccount(victim.id))[0]!;
    const client = await createConfidentialClient(server.app);
    const user = await createAccountWithTotp(server.app);
    const browser = new Browser(server.issuer);
    const landed = await adminSignIn(browser, user);
    expect(landed.status).toBe(403);
    expect(landed.html).toContain('for administrators only');
    const pages = adminPages(victim.id, factor.id, client.clientId);
    for (const path of pages.get) expect({ path, status: (await browser.request(path)).status }).toEqual({ path, status: 403 });
    for (const path of pages.post) {
      const res = await browser.request(path, { method: 'POST', body: new URLSearchParams({ reason: 'x', email: 'a@b.c', password: 'long enough pw' }) });
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
    expect(await server.app.stores.factors.listForAccount(victim.id)).toHaveLength(1);
    expect((await server.app.stores.accounts.findById(victim.id))!.disabledAt).toBeNull();
    expect(await server.app.stores.clients.find(client.clientId)).toBeDefined();
    const denied = await server.app.stores.audit.list({ subject: user.id, type: 'admin.access_denied' });
    expect(denied.length).toBeGreaterThanOrEqual(pages.get.length);
  });

  it('an admin whose session holds only aal1 is asked for the second factor first', async () => {
    const admin = await createAccountWithTotp(server.app, { admin: true });
    const browser = new Browser(server.issuer);
    let page = await browser.follow('/admin/users');
    page = await browser.submit(page, '/password', { email: admin.email, password: admin.password });
    expect(page.html).toContain('Code from your authenticator app');
    page = await browser.submit(page, '/totp', { code: await admin.totp.code() });
    expect(page.status).toBe(200);
    expect(page.html).toContain('<h1>Users</h1>');
  });
});

describe('an admin at work', () => {
  let admin: Awaited<ReturnType<typeof createAccountWithTotp>>;
  let browser: Browser;
  beforeAll(async () => {
    admin = await createAccountWithTotp(server.app, { admin: true, email: `admin-${Date.now()}@example.com` });
    browser = new Browser(server.issuer);
    const page = await adminSignIn(browser, admin);
    expect(page.html).toContain('<h1>Users</h1>');
  });
  afterAll(() => {
    server.clock.offset = 0;
  });

  it('renders hostile names and labels as text on every page', async () => {
    const victim = await createAccountWithTotp(server.app, { name: XSS_NAME, label: XSS_LABEL, email: `x-${Date.now()}@example.com` });
    const factor = (await server.app.stores.factors.listForAccount(victim.id))[0]!;
    await storeAuditRow(server.app, { type: 'test.hostile', outcome: 'failure', subject: victim.id, reason: XSS_LABEL, userAgent: XSS_NAME, details: { label: XSS_LABEL } });
    const client = await createConfidentialClient(server.app, { clientName: XSS_NAME });
    const pages = [
      `/admin/users?q=${encodeURIComponent(victim.email)}`,
      `/admin/users?q=${encodeURIComponent(XSS_NAME)}`,
      `/admin/users/${victim.id}`,
      `/admin/users/${victim.id}/factors/${factor.id}/remove`,
      `/admin/users/${victim.id}/reset`,
      `/admin/users/${victim.id}/disable`,
      `/admin/audit?subject=${victim.id}`,
      `/admin/audit?type=${encodeURIComponent(XSS_NAME)}`,
      '/admin/clients',
      `/admin/clients/${client.clientId}`,
    ];
    for (const path of pages) {
      const page = await browser.request(path);
      expect({ path, status: page.status }).toEqual({ path, status: path.includes('type=%3C') ? 400 : 200 });
      expect(page.html).not.toContain('<script>alert(1)</script>');
      expect(page.html).not.toContain('<img src=x');
      expect(page.html).not.toMatch(/<script(?![^>]*src=)/); // no inline script at all
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    }
    const detail = await browser.request(`/admin/users/${victim.id}`);
    expect(detail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(detail.html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
  });

  it("one user's factor id under another user's URL finds nothing and changes nothing", async () => {
    const alice = await createAccountWithTotp(server.app);
    const bob = await createAccountWithTotp(server.app);
    const bobFactor = (await server.app.stores.factors.listForAccount(bob.id))[0]!;
    expect((await browser.request(`/admin/users/${alice.id}/factors/${bobFactor.id}/remove`)).status).toBe(404);
    const detail = await browser.request(`/admin/users/${alice.id}`);
    const csrf = /name="_csrf" value="([^"]*)"/.exec(detail.html)![1]!;
    const res = await browser.request(`/admin/users/${alice.id}/factors/${bobFactor.id}/remove`, { method: 'POST', body: new URLSearchParams({ _csrf: csrf }) });
    expect(res.status).toBe(404);
    expect(await server.app.stores.factors.listForAccount(bob.id)).toHaveLength(1);
    expect((await browser.request('/admin/users/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('refuses a form without its CSRF token', async () => {
    const victim = await createAccountWithTotp(server.app);
    const res = await browser.request(`/admin/users/${victim.id}/sessions/revoke`, { method: 'POST', body: new URLSearchParams({}) });
    expect(res.status).toBe(403);
    expect(res.html).toContain('Form expired');
    expect(await server.app.stores.audit.list({ subject: victim.id, type: 'admin.sessions.revoke' })).toHaveLength(0);
    // every admin form, old and new, checks the token before anything else
    const factor = (await server.app.stores.factors.listForAccount(victim.id))[0]!;
    const client = await createConfidentialClient(server.app);
    for (const path of adminPages(victim.id, factor.id, client.clientId).post) {
      const refused = await browser.request(path, { method: 'POST', body: new URLSearchParams({ reason: 'x', email: 'a@b.c', password: 'long enough pw' }) });
      expect({ path, status: refused.status, expired: refused.html.includes('Form expired') }).toEqual({ path, status: 403, expired: true });
    }
    expect(await server.app.stores.factors.listForAccount(victim.id)).toHaveLength(1);
    expect((await server.app.stores.accounts.findById(victim.id))!.disabledAt).toBeNull();
  });

  it('steps the admin up before a destructive action when the last verification is older than 5 minutes', async () => {
    const victim = await createAccountWithTotp(server.app);
    const factor = (await server.app.stores.factors.listForAccount(victim.id))[0]!;
    server.clock.offset = 6 * 60;
    const confirm = `/admin/users/${victim.id}/factors/${factor.id}/remove`;
    // issue #15: first a page that names the action and its target
    const named = await browser.request(confirm);
    expect(named.status).toBe(200);
    expect(named.html).toContain(`To <strong>remove “${factor.label}” from ${victim.email}</strong>, confirm it is you first.`);
    const res = await browser.request(`${confirm}?recheck=go`);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!, server.issuer);
    expect(location.pathname).toBe('/auth');
    expect(location.searchParams.get('acr_values')).toBe('aal2'); // no WebAuthn: aal2
    expect(location.searchParams.get('max_age')).toBe('0');
    // a POST without the fresh step-up goes back to the confirmation page, and changes nothing
    const detail = await browser.request(`/admin/users/${victim.id}`);
    const csrf = /name="_csrf" value="([^"]*)"/.exec(detail.html)![1]!;
    const early = await browser.request(confirm, { method: 'POST', body: new URLSearchParams({ _csrf: csrf }) });
    expect(early.status).toBe(303);
    expect(early.headers.get('location')).toBe(confirm);
    expect(await server.app.stores.factors.listForAccount(victim.id)).toHaveLength(1);

    let page = await browser.follow(`${confirm}?recheck=go`);
    page = await browser.submit(page, '/password', { email: admin.email, password: admin.password });
    page = await browser.submit(page, '/totp', { code: await admin.totp.code(Math.floor(Date.now() / 1000) + server.clock.offset) });
    expect(page.html).toContain('Remove a factor');
    page = await browser.submit(page, confirm, { reason: 'lost phone, ticket 7' });
    expect(page.html).toContain('Factor removed');
    expect(await server.app.stores.factors.listForAccount(victim.id)).toHaveLength(0);
    const [event] = await server.app.stores.audit.list({ subject: victim.id, type: 'admin.factor.remove' });
    expect(event).toMatchObject({ actor: admin.id, clientId: 'stepup-admin', reason: 'lost phone, ticket 7', outcome: 'success' });
    // the user's page shows who did it and why
    expect(page.html).toContain(admin.email);
    expect(page.html).toContain('lost phone, ticket 7');
  });

  it('asks an admin who has a WebAuthn credential for a fresh phr step-up instead', async () => {
    const other = await createAccountWithTotp(server.app, { admin: true });
    const otherBrowser = new Browser(server.issuer);
    const atServerTime = { code: () => other.totp.code(Math.floor(Date.now() / 1000) + server.clock.offset) };
    expect((await adminSignIn(otherBrowser, { ...other, totp: atServerTime })).html).toContain('<h1>Users</h1>');
    await server.app.stores.factors.createWebAuthn(other.id, {
      label: 'Key',
      credentialId: `cred-${other.id}`,
      publicKey: new Uint8Array([1, 2, 3]),
      signCount: 0,
      transports: [],
      aaguid: '00000000-0000-0000-0000-000000000000',
      backupEligible: false,
      backupState: false,
      userVerifying: false,
      attested: false,
    });
    const victim = await createAccountWithTotp(server.app);
    expect((await otherBrowser.request(`/admin/users/${victim.id}/disable`)).html).toContain(`To <strong>disable ${victim.email}</strong>`);
    const res = await otherBrowser.request(`/admin/users/${victim.id}/disable?recheck=go`);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!, server.issuer);
    expect(location.searchParams.get('acr_values')).toBe('phr');
    expect(location.searchParams.get('max_age')).toBe('0');
  });

  it('resets factors with a reason, disables and enables, revokes sessions', async () => {
    const victim = await createAccountWithTotp(server.app);
    let page = await browser.follow(`/admin/users/${victim.id}/reset`);
    expect(page.html).toContain('Reset all factors');
    page = await browser.submit(page, `/admin/users/${victim.id}/reset`, { reason: '' });
    expect(page.status).toBe(400);
    page = await browser.submit(await browser.follow(`/admin/users/${victim.id}/reset`), `/admin/users/${victim.id}/reset`, { reason: 'new phone' });
    expect(page.html).toContain('Every factor was removed');
    page = await browser.submit(await browser.follow(`/admin/users/${victim.id}/disable`), `/admin/users/${victim.id}/disable`, { reason: 'left the company' });
    expect(page.html).toContain('disabled since');
    expect((await server.app.stores.accounts.findById(victim.id))!.disabledAt).not.toBeNull();
    page = await browser.submit(page, `/admin/users/${victim.id}/enable`);
    expect(page.html).toContain('User enabled');
    page = await browser.submit(page, `/admin/users/${victim.id}/sessions/revoke`);
    expect(page.html).toContain('Every session and refresh token of the user was revoked');
    // not their own account, though
    const self = await browser.follow(`/admin/users/${admin.id}/disable`);
    expect((await browser.submit(self, `/admin/users/${admin.id}/disable`)).status).toBe(409);
    expect((await server.app.stores.accounts.findById(admin.id))!.disabledAt).toBeNull();
    const types = (await server.app.stores.audit.list({ subject: victim.id, type: 'admin.*' })).map((e) => e.type);
    expect(types).toEqual(['admin.sessions.revoke', 'admin.user.enable', 'admin.user.disable', 'admin.factors.reset']);
  });

  it('searches and pages users, and creates one', async () => {
    let page = await browser.follow('/admin/users/new');
    page = await browser.submit(page, '/admin/users', { email: 'Made-In-UI@example.com', name: 'Made', password: 'a long enough password' });
    expect(page.html).toContain('User created');
    page = await browser.follow('/admin/users?q=made-in-ui');
    expect(page.html).toContain('made-in-ui@example.com');
    expect(page.html).toContain('1 user matching');
    page = await browser.follow('/admin/users/new');
    page = await browser.submit(page, '/admin/users', { email: 'nope', password: 'x' });
    expect(page.status).toBe(400);
    // the refusal names the form's fields by their labels, in words (not a schema path and a type)
    expect(page.html).toContain('Email must be an email address');
    expect(page.html).toContain('Initial password must be at least 8 characters');
    expect(page.html).not.toMatch(/Too small|expected string/);
  });

  it('registers a client (secret shown once), edits it, rotates and deletes it', async () => {
    let page = await browser.follow('/admin/clients/new');
    page = await browser.submit(page, '/admin/clients', { client_id: 'ui-app', confidential: 'on', client_name: 'UI app', redirect_uris: 'https://ui.example/cb\nhttps://ui.example/cb2', grant_types: 'authorization_code', default_acr_values: 'aal2' });
    expect(page.html).toContain('only time the secret is shown');
    const secret = /id="secret" value="([^"]*)"/.exec(page.html)![1]!;
    expect((await server.app.stores.clients.find('ui-app'))!.clientSecret).toBe(secret);
    page = await browser.follow('/admin/clients/ui-app');
    expect(page.html).not.toContain(secret);
    page = await browser.submit(page, '/admin/clients/ui-app', { client_name: 'UI app 2', redirect_uris: 'https://ui.example/cb', post_logout_redirect_uris: 'https://ui.example/bye', grant_types: 'authorization_code', minimum_acr: 'aal2' });
    expect(page.html).toContain('Saved.');
    expect(await server.app.stores.clients.find('ui-app')).toMatchObject({ clientName: 'UI app 2', minimumAcr: 'aal2', postLogoutRedirectUris: ['https://ui.example/bye'], defaultAcrValues: [] });
    // issue #14: registered without a choice → RS256; ES256 and signed UserInfo selectable, nothing else
    expect(await server.app.stores.clients.find('ui-app')).toMatchObject({ idTokenSignedResponseAlg: 'RS256', userinfoSignedResponseAlg: undefined });
    page = await browser.follow('/admin/clients/ui-app');
    expect(page.html).toContain('<option value="RS256" selected>RS256</option>');
    const signed = { redirect_uris: 'https://ui.example/cb', grant_types: 'authorization_code', id_token_signed_response_alg: 'ES256', userinfo_signed_response_alg: 'RS256' };
    page = await browser.submit(page, '/admin/clients/ui-app', signed);
    expect(page.html).toContain('Saved.');
    expect(page.html).toContain('<option value="ES256" selected>ES256</option>');
    expect(await server.app.stores.clients.find('ui-app')).toMatchObject({ idTokenSignedResponseAlg: 'ES256', userinfoSignedResponseAlg: 'RS256' });
    page = await browser.submit(page, '/admin/clients/ui-app', { ...signed, id_token_signed_response_alg: 'HS256' });
    expect(page.status).toBe(400);
    expect(page.html).toContain('id_token_signed_response_alg');
    page = await browser.submit(await browser.follow('/admin/clients/ui-app/rotate'), '/admin/clients/ui-app/rotate');
    const rotated = /id="secret" value="([^"]*)"/.exec(page.html)![1]!;
    expect(rotated).not.toBe(secret);
    page = await browser.submit(await browser.follow('/admin/clients/ui-app/delete'), '/admin/clients/ui-app/delete');
    expect(await server.app.stores.clients.find('ui-app')).toBeUndefined();
    expect((await browser.request('/admin/clients/stepup-admin')).status).toBe(404);
    expect((await browser.request('/admin/clients/a%00b')).status).toBe(404);
  });

  it('filters the audit trail by user, type and time and exports CSV and JSON', async () => {
    const victim = await createAccountWithTotp(server.app);
    await storeAuditRow(server.app, { type: 'test.filter', outcome: 'info', subject: victim.id });
    let page = await browser.follow(`/admin/audit?subject=${victim.id}&type=test.*`);
    expect(page.html).toContain('test.filter');
    page = await browser.follow(`/admin/audit?subject=${victim.id}&since=2999-01-01T00:00`);
    expect(page.html).toContain('No events');
    const csv = await browser.request(`/admin/audit/export?subject=${victim.id}&format=csv`);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.html.split('\n')[1]).toContain('test.filter');
    const json = JSON.parse((await browser.request(`/admin/audit/export?subject=${victim.id}&format=json`)).html) as { items: { type: string }[] };
    expect(json.items.map((e) => e.type)).toEqual(['test.filter']);
  });

  it('issue #15: the audit trail filtered by email finds the user\'s events as readable lines; the CSV carries emails; an unknown email says so', async () => {
    const victim = await createAccountWithTotp(server.app);
    await server.app.stores.audit.record({ type: 'login.password', outcome: 'success', subject: victim.id, clientId: 'payroll', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36' });
    await server.app.stores.audit.record({ type: 'login.totp', outcome: 'failure', reason: 'bad_code', subject: victim.id });
    const page = await browser.follow(`/admin/audit?subject=${encodeURIComponent(victim.email)}`);
    expect(page.status).toBe(200);
    const lines = [...page.html.matchAll(/<span class="line">([\s\S]*?)<\/span>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, '').trim());
    expect(lines).toEqual([
      `Failed: ${victim.email} entered a wrong authenticator app code (bad code)`,
      `${victim.email} signed in with a password at payroll, from Chrome 156 on Linux`,
    ]);
    expect(page.html).toContain('<details>');
    expect(page.html).toContain('<option value="login.*">');
    const byType = await browser.follow(`/admin/audit?subject=${encodeURIComponent(victim.email)}&type=login.totp`);
    expect([...byType.html.matchAll(/data-type="([^"]+)"/g)].map((m) => m[1])).toEqual(['login.totp']);
    const csv = await browser.request(`/admin/audit/export?subject=${encodeURIComponent(victim.email)}&format=csv`);
    expect(csv.html.split('\n')[0]).toContain('subject,subject_email');
    expect(csv.html.split('\n')[1]).toContain(`${victim.id},${victim.email}`);
    const unknown = await browser.follow('/admin/audit?subject=nobody%40example.com');
    expect(unknown.status).toBe(404);
    expect(unknown.html).toContain('No user has the email nobody@example.com');
  });

  it('issue #15: the user list shows the second factors and the last sign-in', async () => {
    const someone = await createAccountWithTotp(server.app, { email: `listed-${Date.now()}@example.com` });
    await server.app.stores.audit.record({ type: 'login.password', outcome: 'success', subject: someone.id });
    const page = await browser.follow(`/admin/users?q=${encodeURIComponent(someone.email)}`);
    const row = new RegExp(`${someone.email}[\\s\\S]*?data-col="second-factor">([^<]*)<[\\s\\S]*?data-col="last-sign-in">([^<]*)<`).exec(page.html)!;
    expect(row[1]).toBe('Authenticator app');
    expect(row[2]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  });

  it('issue #15: a user\'s active sessions (browser, network, started, last seen): end one; require a new password; set a temporary one', async () => {
    const target = await createAccountWithTotp(server.app);
    const rp = await createConfidentialClient(server.app);
    const config = await discover(server.issuer, rp.clientId, rp.clientSecret);
    const ua = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
    const theirs = new Browser(server.issuer, { 'user-agent': ua });
    const started = await startAuthorization(config);
    await finish(config, started, (await passwordLogin(theirs, started, target.email, target.password)).url);
    const again = await startAuthorization(config); // an authorization with the session: last seen
    await finish(config, again, (await theirs.follow(again.url.toString())).url);
    let page = await browser.follow(`/admin/users/${target.id}`);
    const table = /<table data-table="sessions">([\s\S]*?)<\/table>/.exec(page.html)![1]!;
    expect(table).toContain('Chrome 156 on Linux');
    expect(table).toContain('127.0.0.1');
    expect(table).toContain(rp.clientId);
    page = await browser.submit(page, '/end');
    expect(page.html).toContain('The session was ended');
    expect(page.html).toContain('No active sessions.');
    const after = await startAuthorization(config);
    expect(isCallback(await theirs.follow(after.url.toString()))).toBe(false); // signed out

    page = await browser.submit(page, '/password/require-change');
    expect(page.html).toContain('will choose a new password');
    expect((await server.app.stores.accounts.findById(target.id))!.passwordChangeRequired).toBe(true);
    page = await browser.follow(`/admin/users/${target.id}/password`);
    expect(page.html).toContain(`Set a temporary password for <strong>${target.email}</strong>`);
    const weak = await browser.submit(page, `/admin/users/${target.id}/password`, { password: 'password123' });
    expect(weak.status).toBe(400);
    page = await browser.submit(page, `/admin/users/${target.id}/password`, { password: 'temporary passphrase 9' });
    expect(page.html).toContain('Temporary password set');
    expect((await server.app.stores.factors.listForAccount(target.id)).length).toBe(1); // factors stay
  });
});
