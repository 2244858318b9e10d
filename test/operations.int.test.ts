import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { REDACTED_PATHS } from '../src/ops/logger.js';
import { Browser } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { createConfidentialClient, createUser, discover, finish, passwordLogin, RP_REDIRECT, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/** Operations (SPEC §5): health, readiness, logs without secrets, cookie flags. */
const iso = newIsolation();
let server: RunningServer;
let redisDown: RunningServer;

beforeAll(async () => {
  server = await startServer(iso);
  // the same stores, but Redis pointed at a closed port: readiness must say so, liveness must not care
  redisDown = await startServer(iso, { REDIS_URL: 'redis://127.0.0.1:1' });
});
afterAll(async () => {
  await server?.close();
  await redisDown?.close();
  await dropIsolation(iso);
});

describe('health and readiness', () => {
  it('/healthz and /readyz answer 200 with both stores up', async () => {
    expect((await fetch(`${server.issuer}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.issuer}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('/readyz is 503 with Retry-After when Redis is down, while /healthz stays up', async () => {
    expect((await fetch(`${redisDown.issuer}/healthz`)).status).toBe(200);
    const ready = await fetch(`${redisDown.issuer}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBeTruthy();
    expect(await ready.json()).toMatchObject({ checks: { postgres: 'ok', redis: 'down' } });
  });

  it('an authorization request needing Redis goes back to the RP as temporarily_unavailable with Retry-After', async () => {
    const client = await createConfidentialClient(redisDown.app);
    const config = await discover(redisDown.issuer, client.clientId, client.clientSecret);
    const started = await startAuthorization(config);
    const res = await fetch(started.url, { redirect: 'manual', headers: { accept: 'text/html' } });
    // RFC 6749 §4.1.2.1: a 503 cannot be redirected, so the RP learns it from the error code
    expect(res.status).toBeGreaterThanOrEqual(300);
    expect(res.status).toBeLessThan(400);
    const location = new URL(res.headers.get('location')!);
    expect(location.href.startsWith(RP_REDIRECT)).toBe(true);
    expect(location.searchParams.get('error')).toBe('temporarily_unavailable');
    expect(location.searchParams.get('state')).toBe(started.state);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(res.headers.getSetCookie().join()).not.toMatch(/_session=;|expires=Thu, 01 Jan 1970/);
  });

  it('the token endpoint answers 503 temporarily_unavailable with Retry-After, no server_error', async () => {
    const client = await createConfidentialClient(redisDown.app);
    const res = await fetch(`${redisDown.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'a'.repeat(43), redirect_uri: RP_REDIRECT, code_verifier: 'v'.repeat(43) }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
  });

  it('userinfo, introspection and revocation answer 503 temporarily_unavailable with Retry-After too', async () => {
    const client = await createConfidentialClient(redisDown.app);
    const basic = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;
    const form = { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' };
    const answers = await Promise.all([
      fetch(`${redisDown.issuer}/me`, { headers: { authorization: `Bearer ${'t'.repeat(43)}` } }),
      fetch(`${redisDown.issuer}/token/introspection`, { method: 'POST', headers: form, body: new URLSearchParams({ token: 't'.repeat(43) }) }),
      fetch(`${redisDown.issuer}/token/revocation`, { method: 'POST', headers: form, body: new URLSearchParams({ token: 't'.repeat(43) }) }),
    ]);
    for (const res of answers) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
    }
  });

  it('a sign-in page needing Redis is a readable 503 page with Retry-After, no stack trace', async () => {
    // a real interaction started on the healthy instance (same cookie keys), then opened on the one without Redis
    const client = await createConfidentialClient(server.app);
    const config = await discover(server.issuer, client.clientId, client.clientSecret);
    const browser = new Browser(server.issuer);
    const started = await browser.request((await startAuthorization(config)).url.toString());
    const path = new URL(started.headers.get('location')!, server.issuer).pathname;
    const res = await fetch(`${redisDown.issuer}${path}`, { headers: { accept: 'text/html', cookie: browser.cookieHeader(new URL(path, redisDown.issuer)) } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    const body = await res.text();
    expect(body).toContain('temporarily unavailable');
    expect(body).not.toMatch(/at .+\.(js|ts):\d+/);
    expect(body).not.toContain('ECONNREFUSED');
  });
});

describe('signed-in pages while Redis is down', () => {
  it('/account and /admin answer a readable 503 with Retry-After and never clear the session cookie', async () => {
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer);
    const login = await browser.follow('/account');
    const signedIn = await browser.submit(login, '/password', { email: user.email, password: user.password });
    expect(signedIn.html).toContain('Sign-in methods');
    for (const path of ['/account', '/account/keys/new?kind=passkey', '/admin/users']) {
      const url = new URL(path, redisDown.issuer);
      const res = await fetch(url, { headers: { accept: 'text/html', cookie: browser.cookieHeader(url) }, redirect: 'manual' });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      // no Set-Cookie that would end the session: the session is unknown, not absent
      expect(res.headers.getSetCookie().filter((c) => /^_session/.test(c))).toEqual([]);
      const body = await res.text();
      expect(body).toContain('temporarily unavailable');
      expect(body).not.toMatch(/at .+\.(js|ts):\d+/);
    }
    // and the session still works once Redis answers
    expect((await browser.follow('/account')).html).toContain('Sign-in methods');
  });
});

describe('logs', () => {
  it('redact passwords, secrets, codes, tokens, cookies and authorization headers', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    const log = pino({ redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink);
    log.info({ password: 'S3CRET-1', body: { password: 'S3CRET-2', client_secret: 'S3CRET-3', code: 'S3CRET-4', token: 'S3CRET-5' }, req: { headers: { authorization: 'Basic S3CRET-6', cookie: '_session=S3CRET-7' } } });
    const out = lines.join('');
    expect(out).not.toContain('S3CRET');
    expect(out).toContain('[redacted]');
  });

  it('a whole sign-in logs one access line per request and no password, code or token (issue #6: the access log skips redaction)', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    const logged = await startServer(iso, {}, { logger: pino({ level: 'info', redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { service: 'stepup' } }, sink) });
    try {
      const user = await createUser(logged.app);
      const totp = await enrollTotp(logged.app, user.id);
      const rp = await createConfidentialClient(logged.app);
      const config = await discover(logged.issuer, rp.clientId, rp.clientSecret);
      const browser = new Browser(logged.issuer);
      const started = await startAuthorization(config, { acr_values: 'aal2' });
      const codePage = await passwordLogin(browser, started, user.email, user.password);
      const code = await totp.code();
      const done = await browser.submit(codePage, '/totp', { code });
      const tokens = await finish(config, started, done.url);
      const authorizationCode = new URL(done.url).searchParams.get('code')!;
      const out = lines.join('');
      for (const secret of [user.password, code, authorizationCode, tokens.access_token, tokens.id_token!, rp.clientSecret]) expect(out).not.toContain(secret);
      const access = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
      // authorize, login page, password, TOTP page, TOTP, resume, token
      expect(access.length).toBeGreaterThanOrEqual(7);
      for (const line of access) {
        expect(Object.keys(line).sort()).toEqual(['level', 'method', 'ms', 'msg', 'path', 'requestId', 'service', 'status', 'time'].sort());
        expect(String(line.path)).not.toContain('?');
      }
    } finally {
      await logged.close();
    }
  });

  it('every response carries a request id, and a given one is echoed', async () => {
    const res = await fetch(`${server.issuer}/healthz`, { headers: { 'x-request-id': 'req-12345678' } });
    expect(res.headers.get('x-request-id')).toBe('req-12345678');
    expect((await fetch(`${server.issuer}/healthz`)).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('cookies', () => {
  it('session and interaction cookies are HttpOnly and SameSite=Lax', async () => {
    const user = await createUser(server.app);
    const client = await createConfidentialClient(server.app);
    const config = await discover(server.issuer, client.clientId, client.clientSecret);
    const started = await startAuthorization(config);
    const res = await fetch(started.url, { redirect: 'manual' });
    const cookies = res.headers.getSetCookie();
    const interaction = cookies.find((c) => c.startsWith('_interaction='))!;
    expect(interaction).toMatch(/httponly/i);
    expect(interaction).toMatch(/samesite=lax/i);
    const browser = new Browser(server.issuer);
    await passwordLogin(browser, await startAuthorization(config), user.email, user.password);
    expect(browser.cookie('_session')).toBeDefined();
  });
});
