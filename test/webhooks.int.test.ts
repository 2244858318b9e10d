import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { hashRecoveryCode, newRecoveryCodes } from '../src/factors/recovery-codes/recovery-codes.js';
import { WEBHOOK_DETAIL_FIELDS } from '../src/webhooks/payload.js';
import { adminApiToken, adminSignIn, api, createAccountWithTotp } from './support/admin.js';
import { Browser } from './support/browser.js';
import { dropIsolation, newIsolation, type Isolation } from './support/env.js';
import { createConfidentialClient, createUser, discover, finish, passwordLogin, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';
import { testSmtp, type TestSmtp } from './support/smtp.js';
import { webhookReceiver, type ReceivedHook, type TestReceiver } from './support/webhook-receiver.js';

/**
 * Issue #17 item 3: audit events to a webhook, signed per Standard Webhooks and checked here with the
 * reference library's verify; through the outbox (retries with backoff, dead letters visible in the
 * admin API and UI); nothing secret in a payload; SSRF rules. Real receivers on loopback ports; the
 * backoff is 100 ms × 2^n here, not minutes.
 */
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const FAST = { pollMs: 50, backoff: (n: number) => 100 * 2 ** (n - 1) };
const headersOf = (h: ReceivedHook) => ({
  'webhook-id': String(h.headers['webhook-id']),
  'webhook-timestamp': String(h.headers['webhook-timestamp']),
  'webhook-signature': String(h.headers['webhook-signature']),
});
const bodyOf = (h: ReceivedHook) => JSON.parse(h.body) as { type: string; timestamp: string; data: Record<string, any> };

/** A server posting to `receiver` (loopback: allowed explicitly) and its isolation. */
async function serverFor(receiver: TestReceiver, env: Record<string, string> = {}, outbox: object = {}) {
  const iso = newIsolation();
  const server = await startServer(iso, { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOW_PRIVATE: 'true', ...env }, { outbox: { ...FAST, ...outbox } });
  return { iso, server };
}
async function stop(...runs: Array<{ iso: Isolation; server: RunningServer } | undefined>) {
  for (const r of runs) {
    await r?.server.close();
    if (r) await dropIsolation(r.iso);
  }
}
async function until<T>(what: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('signed audit events (Standard Webhooks)', () => {
  let receiver: TestReceiver;
  let run: { iso: Isolation; server: RunningServer };
  let smtp: TestSmtp;
  let config: oidc.Configuration;
  beforeAll(async () => {
    receiver = await webhookReceiver();
    smtp = await testSmtp();
    run = await serverFor(receiver, { SMTP_URL: smtp.url });
    const rp = await createConfidentialClient(run.server.app);
    config = await discover(run.server.issuer, rp.clientId, rp.clientSecret);
  });
  afterAll(async () => {
    await stop(run);
    await receiver?.close();
    await smtp?.stop();
  });

  it('every delivery verifies with the reference check; a wrong secret or a changed body does not; webhook-id is the outbox entry, data.id the audit event', async () => {
    const user = await createUser(run.server.app);
    const started = await startAuthorization(config);
    await finish(config, started, (await passwordLogin(new Browser(run.server.issuer), started, user.email, user.password)).url);
    const event = (await run.server.app.stores.audit.list({ subject: user.id, type: 'login.password' }))[0]!;
    const hook = await until(() => receiver.requests.find((h) => bodyOf(h).data.id === event.id));

    expect(hook.path).toBe('/hooks/stepup');
    expect(hook.headers['content-type']).toBe('application/json');
    const body = bodyOf(hook);
    expect(body).toMatchObject({ type: 'login.password', data: { id: event.id, type: 'login.password', outcome: 'success', subject: user.id, ip: '127.0.0.1' } });
    expect(new Date(body.timestamp).getTime()).toBe(new Date(event.at).getTime());
    // marked sent once the receiver's answer is in
    const row = await until(async () => {
      const r = await run.server.app.stores.db('outbox').where({ audit_event_id: event.id }).first();
      return r?.status === 'sent' ? r : undefined;
    });
    expect(hook.headers['webhook-id']).toBe(row.id);

    const others = await until(() => (receiver.requests.length >= 2 ? receiver.requests : undefined));
    const wrong = new Webhook(`whsec_${randomBytes(32).toString('base64')}`);
    for (const h of others) {
      expect(new Webhook(SECRET).verify(h.body, headersOf(h))).toEqual(JSON.parse(h.body));
      expect(() => wrong.verify(h.body, headersOf(h))).toThrow(WebhookVerificationError);
      expect(() => new Webhook(SECRET).verify(h.body.replace('"success"', '"failure"'), headersOf(h))).toThrow(WebhookVerificationError);
      expect(h.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    }
    // the step-up decision of that sign-in went too: one delivery per event
    expect(others.some((h) => bodyOf(h).type === 'stepup.decision')).toBe(true);
    expect(new Set(others.map((h) => h.headers['webhook-id'])).size).toBe(others.length);
  });

  it('nothing secret in any payload: passwords, codes, client secrets, TOTP secrets, reset links, tokens; details are whitelisted', async () => {
    const before = receiver.requests.length;
    const user = await createAccountWithTotp(run.server.app);
    const codes = newRecoveryCodes();
    await run.server.app.stores.recoveryCodes.replace(user.id, codes.map(hashRecoveryCode));
    const browser = new Browser(run.server.issuer);
    const started = await startAuthorization(config, { acr_values: 'aal2' });
    let page = await passwordLogin(browser, started, user.email, user.password);
    const code = await user.totp.code();
    page = await browser.submit(page, '/totp', { code });
    await finish(config, started, page.url);
    const second = new Browser(run.server.issuer);
    await passwordLogin(second, await startAuthorization(config), user.email, user.password);
    const totpPage = await second.follow((await startAuthorization(config, { acr_values: 'aal2' })).url.toString());
    const recovery = await second.submit(totpPage, `/interaction/${/\/interaction\/([^/"]+)\/totp/.exec(totpPage.html)![1]}`, { use: 'recovery_code' });
    await second.submit(recovery, '/recovery', { code: codes[0]! });

    const { token } = await adminApiToken(run.server.app, run.server.issuer);
    const created = await api(run.server.issuer, token, 'POST', '/clients', { client_id: `c-${randomBytes(4).toString('hex')}`, confidential: true, redirect_uris: ['https://rp.example/cb'], grant_types: ['authorization_code', 'refresh_token'] });
    expect(created.status).toBe(201);
    const rotated = await api(run.server.issuer, token, 'POST', `/clients/${created.json.client_id}/secret`);
    expect(rotated.status).toBe(200);
    const totpSecret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ';
    await api(run.server.issuer, token, 'POST', `/users/${user.id}/factors/totp`, { secret: totpSecret });
    const forgot = new Browser(run.server.issuer);
    await forgot.submit(await forgot.follow('/password/forgot'), '/password/forgot', { email: user.email });
    const mail = await until(() => smtp.to(user.email).find((m) => String(m.parsed.headers.get('x-stepup-notification')) === 'password_reset_link'));
    const link = /token=([A-Za-z0-9_-]{43})/.exec(mail.parsed.text ?? '')![1]!;
    await until(() => run.server.app.stores.db('outbox').where({ channel: 'webhook', status: 'pending' }).first().then((r) => (r ? undefined : true)));

    const sent = receiver.requests.slice(before).map((h) => h.body).join('\n');
    const types = receiver.requests.slice(before).map((h) => bodyOf(h).type);
    expect(types).toEqual(expect.arrayContaining(['login.password', 'login.totp', 'login.recovery_code', 'admin.client.create', 'admin.client.rotate_secret', 'admin.factor.import_totp', 'password.reset_requested']));
    for (const secret of [user.password, code, codes[0]!, created.json.client_secret, rotated.json.client_secret, totpSecret, link, token, SECRET.slice(6)]) {
      expect(typeof secret).toBe('string');
      expect(sent).not.toContain(secret);
    }
    for (const h of receiver.requests.slice(before)) {
      for (const key of Object.keys(bodyOf(h).data.details)) expect(Object.keys(WEBHOOK_DETAIL_FIELDS)).toContain(key);
    }
  });
});

describe('retries, backoff and dead letters', () => {
  it('a receiver answering 500 sees retries with a growing wait (same webhook-id, fresh signature), then success', async () => {
    const receiver = await webhookReceiver();
    const seen = new Map<string, number>();
    receiver.answer = (h) => {
      const id = String(h.headers['webhook-id']);
      seen.set(id, (seen.get(id) ?? 0) + 1);
      return seen.get(id)! <= 2 ? 500 : 200;
    };
    const run = await serverFor(receiver, { WEBHOOK_EVENTS: 'admin.*' });
    try {
      const user = await createUser(run.server.app);
      const { token } = await adminApiToken(run.server.app, run.server.issuer);
      expect((await api(run.server.issuer, token, 'POST', `/users/${user.id}/disable`, {})).status).toBe(200);
      const hooks = await receiver.waitFor(3);
      await new Promise((r) => setTimeout(r, 300));
      expect(hooks).toHaveLength(3);
      expect(new Set(hooks.map((h) => h.headers['webhook-id'])).size).toBe(1);
      for (const h of hooks) expect(new Webhook(SECRET).verify(h.body, headersOf(h))).toMatchObject({ type: 'admin.user.disable' });
      // backoff: at least 100 ms, then at least 200 ms (FAST.backoff)
      expect(hooks[1]!.at - hooks[0]!.at).toBeGreaterThanOrEqual(100);
      expect(hooks[2]!.at - hooks[1]!.at).toBeGreaterThanOrEqual(200);
      const row = await until(async () => {
        const r = await run.server.app.stores.db('outbox').where({ channel: 'webhook' }).first();
        return r?.status === 'sent' ? r : undefined;
      });
      expect(row).toMatchObject({ status: 'sent', attempts: 3, last_error: null });
      const listed = await api(run.server.issuer, token, 'GET', '/outbox?channel=webhook');
      expect(listed.json.items[0]).toMatchObject({ id: row.id, status: 'sent', attempts: 3, kind: 'admin.user.disable' });
    } finally {
      await stop(run);
      await receiver.close();
    }
  });

  it('after the last attempt a delivery is a dead letter, visible in the admin API and on the audit page; an admin sends it again', async () => {
    const receiver = await webhookReceiver();
    receiver.answer = () => 500;
    const run = await serverFor(receiver, { WEBHOOK_EVENTS: 'admin.user.disable' }, { maxAttempts: 3 });
    try {
      const user = await createUser(run.server.app);
      const { token } = await adminApiToken(run.server.app, run.server.issuer);
      expect((await api(run.server.issuer, token, 'POST', `/users/${user.id}/disable`, {})).status).toBe(200);
      const dead = await until(async () => {
        const r = await api(run.server.issuer, token, 'GET', '/outbox?status=dead');
        return r.json.items.length ? r.json.items[0] : undefined;
      });
      expect(dead).toMatchObject({ channel: 'webhook', kind: 'admin.user.disable', status: 'dead', attempts: 3, last_error: 'HTTP 500', next_attempt_at: null });
      expect(dead.payload).toMatchObject({ type: 'admin.user.disable', data: { subject: user.id } });
      expect(receiver.requests).toHaveLength(3);
      const counts = (await api(run.server.issuer, token, 'GET', '/outbox')).json.counts;
      expect(counts).toEqual(expect.arrayContaining([{ channel: 'webhook', status: 'dead', count: 1 }]));
      // only a dead webhook delivery can be sent again
      expect((await api(run.server.issuer, token, 'POST', `/outbox/${dead.id}x/retry`)).status).toBe(404);

      const admin = await createAccountWithTotp(run.server.app, { admin: true });
      const browser = new Browser(run.server.issuer);
      await adminSignIn(browser, admin);
      const audit = await browser.follow('/admin/audit?type=admin.user.disable');
      expect(audit.html).toContain('data-delivery="dead"');
      expect(audit.html).toContain('Webhook: failed after 3 attempts, given up');
      expect(audit.html).toContain('last error: <code>HTTP 500</code>');
      let page = await browser.follow('/admin/outbox?status=dead');
      expect(page.html).toContain(`data-entry="${dead.id}" data-status="dead"`);
      receiver.answer = () => 200;
      page = await browser.submit(page, `/admin/outbox/${dead.id}/retry`);
      expect(page.html).toContain('The delivery is pending again.');
      await receiver.waitFor(4);
      await until(async () => ((await api(run.server.issuer, token, 'GET', '/outbox?status=sent')).json.items.length === 1 ? true : undefined));
      expect((await run.server.app.stores.audit.list({ type: 'admin.webhook.retry' }))[0]).toMatchObject({ actor: admin.id, details: { entryId: dead.id } });
      // the OpenAPI document lists the outbox routes
      const doc = (await api(run.server.issuer, undefined, 'GET', '/openapi.json')).json;
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/outbox', '/outbox/{entryId}/retry']));
    } finally {
      await stop(run);
      await receiver.close();
    }
  });
});

describe('SSRF and what a delivery refuses', () => {
  it('a target resolving to a loopback address is refused without WEBHOOK_ALLOW_PRIVATE (checked at delivery, on the resolved address); nothing reaches it', async () => {
    const receiver = await webhookReceiver();
    const iso = newIsolation();
    // `localhost` goes through the DNS lookup the connection uses: the address checked is the one connected to
    const server = await startServer(iso, { WEBHOOK_URL: `http://localhost:${receiver.port}/hooks`, WEBHOOK_SECRET: SECRET, WEBHOOK_EVENTS: 'admin.user.disable' }, { outbox: { ...FAST, maxAttempts: 2 } });
    try {
      const user = await createUser(server.app);
      const { token } = await adminApiToken(server.app, server.issuer);
      await api(server.issuer, token, 'POST', `/users/${user.id}/disable`, {});
      const row = await until(() => server.app.stores.db('outbox').where({ channel: 'webhook', status: 'dead' }).first());
      expect(row.last_error).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), not a public address \(set WEBHOOK_ALLOW_PRIVATE=true to allow it\)$/);
      expect(row.attempts).toBe(2);
      expect(receiver.requests).toHaveLength(0);
    } finally {
      await server.close();
      await dropIsolation(iso);
      await receiver.close();
    }
  });

  it('a redirect is not followed and a receiver that does not answer times out; both are failures', async () => {
    const receiver = await webhookReceiver();
    receiver.answer = (h, res) => {
      if (h.path === '/hooks/stepup' && bodyOf(h).type === 'admin.user.disable') {
        res.writeHead(307, { location: '/elsewhere' }).end();
        return undefined;
      }
      if (h.path === '/hooks/stepup') return undefined; // never answers
      return 200;
    };
    const run = await serverFor(receiver, { WEBHOOK_EVENTS: 'admin.user.*', WEBHOOK_TIMEOUT_MS: '300' }, { maxAttempts: 1 });
    try {
      const user = await createUser(run.server.app);
      const { token } = await adminApiToken(run.server.app, run.server.issuer);
      await api(run.server.issuer, token, 'POST', `/users/${user.id}/disable`, {});
      await api(run.server.issuer, token, 'POST', `/users/${user.id}/enable`, {});
      const rows = await until(async () => {
        const r = await run.server.app.stores.db('outbox').where({ channel: 'webhook', status: 'dead' }).orderBy('created_at');
        return r.length === 2 ? r : undefined;
      });
      expect(rows.map((r) => [r.kind, r.last_error])).toEqual([
        ['admin.user.disable', 'HTTP 307: redirects are not followed'],
        ['admin.user.enable', 'no answer within 300 ms'],
      ]);
      expect(receiver.requests.map((h) => h.path)).not.toContain('/elsewhere');
    } finally {
      await stop(run);
      await receiver.close();
    }
  });
});
