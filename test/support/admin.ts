import * as oidc from 'openid-client';
import type { App } from '../../src/app.js';
import { hashPassword } from '../../src/factors/password/password.js';
import { Browser, type Page } from './browser.js';
import { enrollTotp } from './factors.js';
import { createConfidentialClient, discover } from './rp.js';

/** An admin API client (client credentials, scope admin) and a fresh access token for it. */
export async function adminApiToken(app: App, issuer: string, scope = 'admin', resource?: string) {
  const client = await createConfidentialClient(app, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [], scope });
  const cfg = await discover(issuer, client.clientId, client.clientSecret);
  const tokens = await oidc.clientCredentialsGrant(cfg, { scope, ...(resource ? { resource } : {}) });
  return { ...client, token: tokens.access_token };
}

/** A JSON call to the admin API. */
export async function api(issuer: string, token: string | undefined, method: string, path: string, body?: unknown) {
  const res = await fetch(`${issuer}/admin/api${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), accept: 'application/json' },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json: json as Record<string, any> };
}

/** An account with a password and an active TOTP factor. */
export async function createAccountWithTotp(app: App, opts: { admin?: boolean; email?: string; name?: string; label?: string } = {}) {
  const password = 'correct horse battery staple';
  const account = await app.stores.accounts.create({
    email: opts.email ?? `u-${Math.random().toString(36).slice(2, 10)}@example.com`,
    name: opts.name ?? 'Test User',
    passwordHash: await hashPassword(password),
    isAdmin: opts.admin ?? false,
  });
  const totp = await enrollTotp(app, account.id, opts.label);
  return { ...account, password, totp };
}

/**
 * Signs into /admin with the form browser: /admin → /auth (stepup-admin) → password → TOTP → back.
 * Returns the page the browser lands on.
 */
export async function adminSignIn(browser: Browser, who: { email: string; password: string; totp: { code(epoch?: number): Promise<string> } }, path = '/admin/users'): Promise<Page> {
  let page = await browser.follow(path);
  if (page.html.includes('name="password"')) page = await browser.submit(page, '/password', { email: who.email, password: who.password });
  if (page.html.includes('one-time-code')) page = await browser.submit(page, '/totp', { code: await who.totp.code() });
  return page;
}
