import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { Browser, type Page } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createConfidentialClient, createUser, discover, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/**
 * Issue #7 HTTP hardening: X-Forwarded-For trusted only with TRUST_PROXY; cookies HttpOnly, SameSite
 * and Secure on an https issuer; HSTS on https only; a CSP on every page.
 */
const iso = newIsolation();
let plain: RunningServer;
let proxied: RunningServer;
let plainConfig: oidc.Configuration;
let user: Awaited<ReturnType<typeof createUser>>;

const SPOOFED = '203.0.113.7';
const PUBLIC_ISSUER = 'https://idp.example';
/** what a TLS-terminating proxy in front of the https issuer adds */
const PROXY_HEADERS = { 'x-forwarded-proto': 'https', 'x-forwarded-for': SPOOFED };

beforeAll(async () => {
  plain = await startServer(iso);
  // same stores; public issuer on https behind a proxy that terminates TLS
  proxied = await startServer(iso, { ISSUER: PUBLIC_ISSUER, TRUST_PROXY: 'true' });
  const client = await createConfidentialClient(plain.app);
  // the authorization URL's path and query serve both instances (the proxied one is reached on its loopback port)
  plainConfig = await discover(plain.issuer, client.clientId, client.clientSecret);
  user = await createUser(plain.app);
}, 60_000);
afterAll(async () => {
  await plain?.close();
  await proxied?.close();
  await dropIsolation(iso);
});

/** Keeps every response, redirects included (each may set cookies). */
class RecordingBrowser extends Browser {
  seen: Page[] = [];
  override async request(url: string, init: { method?: string; body?: URLSearchParams } = {}): Promise<Page> {
    const page = await super.request(url, init);
    this.seen.push(page);
    return page;
  }
}

/** The last password sign-in audited for the user: which client IP did stepup record? */
async function lastLoginIp(): Promise<string | undefined> {
  const [event] = await plain.app.stores.audit.list({ subject: user.id, type: 'login.password', limit: 1 });
  return (event as unknown as { ip?: string }).ip;
}

async function signIn(browser: Browser, config: oidc.Configuration, base: string): Promise<Page[]> {
  const started = await startAuthorization(config);
  const url = new URL(started.url);
  const pages: Page[] = [];
  const login = await browser.follow(`${base}${url.pathname}${url.search}`);
  pages.push(login);
  let page = await browser.submit(login, '/password', { email: user.email, password: user.password });
  // behind the proxy the resume URL is https (X-Forwarded-Proto): that is the same loopback server here
  if (page.url.startsWith('https://')) page = await browser.follow(page.url.replace(/^https:\/\/[^/]+/, base));
  pages.push(page);
  return pages;
}

describe('X-Forwarded-For', () => {
  it('is ignored without TRUST_PROXY: a spoofed client IP is not what stepup records (or rate limits)', async () => {
    await signIn(new Browser(plain.issuer, { 'x-forwarded-for': SPOOFED }), plainConfig, plain.issuer);
    const ip = await lastLoginIp();
    expect(ip).toBeTruthy();
    expect(ip).not.toBe(SPOOFED);
  });

  it('is the client IP with TRUST_PROXY', async () => {
    await signIn(new Browser(proxied.issuer, PROXY_HEADERS), plainConfig, proxied.issuer);
    expect(await lastLoginIp()).toBe(SPOOFED);
  });

  it('with TRUST_PROXY, only the address the proxy appended counts, not one the client put in front', async () => {
    const headers = { ...PROXY_HEADERS, 'x-forwarded-for': `198.51.100.99, ${SPOOFED}` };
    await signIn(new Browser(proxied.issuer, headers), plainConfig, proxied.issuer);
    expect(await lastLoginIp()).toBe(SPOOFED);
  });
});

describe('cookies and security headers', () => {
  it('on an https issuer: every cookie HttpOnly, Secure and SameSite; HSTS and CSP on every answer', async () => {
    const browser = new RecordingBrowser(proxied.issuer, PROXY_HEADERS);
    await signIn(browser, plainConfig, proxied.issuer);
    for (const path of ['/', '/healthz', '/no-such-page', '/interaction/unknown-interaction', '/auth?client_id=nope']) {
      await browser.request(`${proxied.issuer}${path}`);
    }
    const setCookies: string[] = [];
    for (const page of browser.seen) {
      expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
      expect(page.headers.get('strict-transport-security')).toMatch(/max-age=\d{7,}/);
      setCookies.push(...page.headers.getSetCookie());
    }
    // the login itself sets cookies through each layer: interaction, session, CSRF
    const names = setCookies.map((c) => c.split('=')[0]);
    expect(names).toEqual(expect.arrayContaining(['_interaction', '_session', 'stepup.csrf']));
    for (const cookie of setCookies) {
      expect(cookie).toMatch(/;\s*httponly/i);
      expect(cookie).toMatch(/;\s*secure/i);
      expect(cookie).toMatch(/;\s*samesite=(lax|strict)/i);
    }
  });

  it('on an http issuer (development): no HSTS, CSP still on every answer', async () => {
    const browser = new RecordingBrowser(plain.issuer);
    await signIn(browser, plainConfig, plain.issuer);
    await browser.request(`${plain.issuer}/no-such-page`);
    await browser.request(`${plain.issuer}/auth?client_id=nope`);
    for (const page of browser.seen) {
      expect(page.headers.get('strict-transport-security')).toBeNull();
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    }
    for (const cookie of browser.seen.flatMap((p) => p.headers.getSetCookie())) {
      expect(cookie).toMatch(/;\s*httponly/i);
      expect(cookie).toMatch(/;\s*samesite=(lax|strict)/i);
    }
  });
});

describe('body size limits', () => {
  it('the token endpoint refuses a body over 56 kB with invalid_request, not a 500', async () => {
    const res = await fetch(`${plain.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=authorization_code&code=${'a'.repeat(100_000)}`,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });
});
