import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { Browser } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, passwordLogin, RP_REDIRECT, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

const iso = newIsolation();
let server: RunningServer;
let rp: { clientId: string; clientSecret: string };
let config: oidc.Configuration;
let user: Awaited<ReturnType<typeof createUser>>;

beforeAll(async () => {
  server = await startServer(iso);
  user = await createUser(server.app);
  rp = await createConfidentialClient(server.app);
  config = await discover(server.issuer, rp.clientId, rp.clientSecret);
});

afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

async function signIn(extra: Parameters<typeof startAuthorization>[1] = {}) {
  const browser = new Browser(server.issuer);
  const started = await startAuthorization(config, extra);
  const callback = await passwordLogin(browser, started, user.email, user.password);
  expect(isCallback(callback)).toBe(true);
  return { browser, started, callback, tokens: await finish(config, started, callback.url, extra.resource) };
}

describe('discovery', () => {
  it('publishes the endpoints, acr levels and claims of SPEC §2.11 and §5', () => {
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(server.issuer);
    expect(meta.acr_values_supported).toEqual(['aal1', 'aal2', 'phr', 'phrh']);
    expect(meta.claims_parameter_supported).toBe(true);
    expect(meta.claims_supported).toEqual(expect.arrayContaining(['acr', 'amr', 'auth_time']));
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.introspection_endpoint).toBe(`${server.issuer}/token/introspection`);
    expect(meta.revocation_endpoint).toBe(`${server.issuer}/token/revocation`);
    expect(meta.end_session_endpoint).toBe(`${server.issuer}/session/end`);
  });

  it('publishes ES256 and RS256 public keys only', async () => {
    const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    for (const k of jwks.keys) expect(k).not.toHaveProperty('d');
  });
});

describe('authorization code flow with PKCE and a password login', () => {
  it('issues a valid ID token with acr, amr and auth_time, userinfo, refresh, introspection and revocation', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { tokens } = await signIn();
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(user.id);
    expect(claims.acr).toBe('aal1');
    expect(claims.amr).toEqual(['pwd']);
    expect(claims.auth_time).toBeGreaterThanOrEqual(before - 1);
    expect(decodeJwt(tokens.id_token!)).toMatchObject({ iss: server.issuer, aud: rp.clientId });

    const info = await oidc.fetchUserInfo(config, tokens.access_token, user.id);
    expect(info).toMatchObject({ sub: user.id, email: user.email });

    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(introspected).toMatchObject({ active: true, sub: user.id, acr: 'aal1', amr: ['pwd'], auth_time: claims.auth_time });

    expect(tokens.refresh_token).toBeDefined();
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()).toMatchObject({ sub: user.id, acr: 'aal1', amr: ['pwd'], auth_time: claims.auth_time });
    // rotation: the used refresh token is gone
    expect(refreshed.refresh_token).toBeDefined();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    await oidc.tokenRevocation(config, refreshed.access_token);
    expect(await oidc.tokenIntrospection(config, refreshed.access_token)).toMatchObject({ active: false });
  });

  it('issues a JWT access token (RFC 9068) carrying acr, amr and auth_time for a resource', async () => {
    const resource = 'https://api.example.com';
    const { tokens } = await signIn({ resource });
    const at = decodeJwt(tokens.access_token);
    expect(at).toMatchObject({ aud: resource, sub: user.id, acr: 'aal1', amr: ['pwd'], client_id: rp.clientId });
    expect(typeof at.auth_time).toBe('number');
  });

  it('regenerates the session cookie at login', async () => {
    const browser = new Browser(server.issuer);
    const started = await startAuthorization(config);
    const loginPage = await browser.follow(started.url.toString());
    const before = browser.cookie('_session');
    await browser.submit(loginPage, '/password', { email: user.email, password: user.password });
    const after = browser.cookie('_session');
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  it('keeps the user signed in: a second authorization needs no login', async () => {
    const { browser } = await signIn();
    const started = await startAuthorization(config);
    const page = await browser.follow(started.url.toString());
    expect(isCallback(page)).toBe(true);
    const tokens = await finish(config, started, page.url);
    expect(tokens.claims()!.sub).toBe(user.id);
  });
});

describe('authorization codes are single-use', () => {
  async function codeAndStarted() {
    const browser = new Browser(server.issuer);
    const started = await startAuthorization(config);
    const callback = await passwordLogin(browser, started, user.email, user.password);
    return { started, callback };
  }

  async function redeem(code: string, verifier: string) {
    const res = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: RP_REDIRECT, code_verifier: verifier }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('refuses a second redemption with invalid_grant', async () => {
    const { started, callback } = await codeAndStarted();
    const code = new URL(callback.url).searchParams.get('code')!;
    expect((await redeem(code, started.verifier)).status).toBe(200);
    expect(await redeem(code, started.verifier)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('gives exactly one token response for 20 parallel redemptions', async () => {
    const { started, callback } = await codeAndStarted();
    const code = new URL(callback.url).searchParams.get('code')!;
    const results = await Promise.all(Array.from({ length: 20 }, () => redeem(code, started.verifier)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.body.error === 'invalid_grant')).toHaveLength(19);
  });
});

describe('PKCE is required for every client (SPEC §5)', () => {
  it('refuses an authorization request without a code challenge', async () => {
    const url = new URL(`${server.issuer}/auth`);
    url.search = new URLSearchParams({ client_id: rp.clientId, response_type: 'code', scope: 'openid', redirect_uri: RP_REDIRECT, state: 'st' }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    const location = new URL(res.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(RP_REDIRECT);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('state')).toBe('st');
  });

  it('refuses the plain method', async () => {
    const url = new URL(`${server.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: rp.clientId,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: RP_REDIRECT,
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'plain',
    }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });
});

describe('login page', () => {
  it('answers a wrong password and an unknown user with the same page', async () => {
    const pages = [];
    for (const [email, password] of [
      [user.email, 'wrong password!'],
      ['nobody-here@example.com', 'wrong password!'],
    ] as const) {
      const browser = new Browser(server.issuer);
      const started = await startAuthorization(config);
      const loginPage = await browser.follow(started.url.toString());
      const page = await browser.submit(loginPage, '/password', { email, password });
      pages.push({ status: page.status, html: page.html.replace(/value="[^"]*"/g, 'value=""').replace(/\/interaction\/[^/"]+/g, '/interaction/UID').replace(/challenge&quot;:&quot;[^&]+/g, 'challenge') });
    }
    expect(pages[0]!.status).toBe(401);
    expect(pages[0]).toEqual(pages[1]);
    expect(pages[0]!.html).toContain('Incorrect email or password.');
  });

  it('follows the form conventions of SPEC §5', async () => {
    const browser = new Browser(server.issuer);
    const page = await browser.follow((await startAuthorization(config)).url.toString());
    expect(page.html).toMatch(/<label for="email">/);
    expect(page.html).toMatch(/<input id="email"[^>]*autocomplete="username"/);
    expect(page.html).toMatch(/<label for="password">/);
    expect(page.html).toMatch(/<input id="password"[^>]*type="password"[^>]*autocomplete="current-password"/);
    expect(page.html).toMatch(/<button type="submit">Sign in<\/button>/);
  });

  it('sends security headers and no-store', async () => {
    const browser = new Browser(server.issuer);
    const page = await browser.follow((await startAuthorization(config)).url.toString());
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('cache-control')).toContain('no-store');
  });

  it('rejects a form post without the CSRF token', async () => {
    const browser = new Browser(server.issuer);
    const started = await startAuthorization(config);
    const loginPage = await browser.follow(started.url.toString());
    const action = /action="([^"]*\/password)"/.exec(loginPage.html)![1]!;
    const page = await browser.request(action, { method: 'POST', body: new URLSearchParams({ email: user.email, password: user.password, _csrf: 'forged' }) });
    expect(page.status).toBe(403);
    expect(page.headers.get('location')).toBeNull();
  });

  it('escapes a hostile login_hint', async () => {
    const browser = new Browser(server.issuer);
    const page = await browser.follow((await startAuthorization(config, { login_hint: '"><script>alert(1)</script>' })).url.toString());
    expect(page.html).not.toContain('<script>alert(1)</script>');
    expect(page.html).toContain('&quot;&gt;&lt;script&gt;');
  });

  it('turns a cancelled login into access_denied at the RP', async () => {
    const browser = new Browser(server.issuer);
    const started = await startAuthorization(config);
    const loginPage = await browser.follow(started.url.toString());
    const page = await browser.submit(loginPage, '/abort');
    expect(isCallback(page)).toBe(true);
    const params = new URL(page.url).searchParams;
    expect(params.get('error')).toBe('access_denied');
    expect(params.get('state')).toBe(started.state);
    expect(params.get('iss')).toBe(server.issuer);
  });

  it('shows a readable page for an expired or unknown interaction', async () => {
    const browser = new Browser(server.issuer);
    const page = await browser.request('/interaction/does-not-exist');
    expect(page.status).toBe(400);
    expect(page.html).toContain('Go back to the application and try again');
    expect(page.html).not.toMatch(/at .*\.js:\d+/);
  });
});

describe('redirect URIs must match exactly', () => {
  it.each([
    ['an appended path', `${RP_REDIRECT}/extra`],
    ['a changed query', `${RP_REDIRECT}?next=evil`],
    ['another host', 'http://evil.localhost/callback'],
  ])('shows an error page and does not redirect for %s', async (_label, redirectUri) => {
    const url = new URL(`${server.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: rp.clientId,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: redirectUri,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    const html = await res.text();
    expect(html).toContain('has not registered');
  });
});

describe('introspection and revocation are limited to the client the token was issued to', () => {
  it('another client cannot introspect or revoke a user token', async () => {
    const { tokens } = await signIn();
    const other = await createConfidentialClient(server.app);
    const otherConfig = await discover(server.issuer, other.clientId, other.clientSecret);
    expect(await oidc.tokenIntrospection(otherConfig, tokens.access_token)).toMatchObject({ active: false });
    await oidc.tokenRevocation(otherConfig, tokens.access_token); // RFC 7009: answered 200 but not revoked
    expect(await oidc.tokenIntrospection(config, tokens.access_token)).toMatchObject({ active: true });
  });

  it('an admin API client (resource server) may introspect any token', async () => {
    const { tokens } = await signIn();
    const admin = await createConfidentialClient(server.app, { grantTypes: ['client_credentials'], redirectUris: [], scope: 'admin' });
    const adminConfig = await discover(server.issuer, admin.clientId, admin.clientSecret);
    expect(await oidc.tokenIntrospection(adminConfig, tokens.access_token)).toMatchObject({ active: true, sub: user.id, acr: 'aal1' });
  });
});

describe('client credentials and logout', () => {
  it('issues an admin API token to a service client with scope admin', async () => {
    const service = await createConfidentialClient(server.app, { grantTypes: ['client_credentials'], redirectUris: [], scope: 'admin' });
    const cfg = await discover(server.issuer, service.clientId, service.clientSecret);
    const tokens = await oidc.clientCredentialsGrant(cfg, { scope: 'admin' });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ aud: `${server.issuer}/admin/api`, scope: 'admin', client_id: service.clientId });
  });

  it('refuses an admin API token to a client not registered with scope admin', async () => {
    const service = await createConfidentialClient(server.app, { grantTypes: ['client_credentials'], redirectUris: [], scope: 'reports' });
    const cfg = await discover(server.issuer, service.clientId, service.clientSecret);
    await expect(oidc.clientCredentialsGrant(cfg, { scope: 'admin', resource: `${server.issuer}/admin/api` })).rejects.toMatchObject({ error: 'invalid_target' });
  });

  it('signs the user out with RP-initiated logout, and the session factor events go with it', async () => {
    const { browser, tokens } = await signIn();
    const redis = server.app.stores.redis;
    // the events are fields of the session's uid hash, under field `a` = the account (session-events.ts)
    const eventKeys = async () => {
      const keys = await redis.keys(`${iso.redisPrefix}oidc:session-uid:*`);
      const hashes = await Promise.all(keys.map((k) => redis.hgetall(k)));
      return keys.filter((_k, i) => hashes[i]!.a === user.id && Object.keys(hashes[i]!).some((f) => f.startsWith('[')));
    };
    const before = await eventKeys();
    expect(before.length).toBeGreaterThan(0);
    const endUrl = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://rp.localhost/logged-out', state: 'bye' });
    const confirm = await browser.follow(endUrl.toString());
    expect(confirm.html).toContain('Sign out');
    const form = /<form[^>]*action="([^"]+)"[\s\S]*?name="xsrf" value="([^"]+)"/.exec(confirm.html)!;
    const done = await browser.follow(form[1]!, { method: 'POST', body: new URLSearchParams({ xsrf: form[2]!, logout: 'yes' }) });
    expect(done.url).toBe('http://rp.localhost/logged-out?state=bye');
    await new Promise((r) => setTimeout(r, 100)); // cleared by an event listener
    expect((await eventKeys()).length).toBe(before.length - 1);
    // the session is gone: a new authorization shows the login page again
    const again = await browser.follow((await startAuthorization(config)).url.toString());
    expect(again.html).toContain('autocomplete="current-password"');
  });
});

describe('prompt=consent and offline_access', () => {
  it('records consent for a first-party client without a dead end, and issues a refresh token', async () => {
    const { browser } = await signIn();
    const started = await startAuthorization(config, { prompt: 'consent', scope: 'openid offline_access email' });
    const page = await browser.follow(started.url.toString());
    expect(isCallback(page)).toBe(true);
    const tokens = await finish(config, started, page.url);
    expect(tokens.refresh_token).toBeDefined();
    expect(tokens.scope?.split(' ')).toEqual(expect.arrayContaining(['openid', 'offline_access', 'email']));
  });
});

describe('password lockout (SPEC §3)', () => {
  async function attempt(email: string, password: string) {
    const b = new Browser(server.issuer);
    const page = await b.follow((await startAuthorization(config)).url.toString());
    return b.submit(page, '/password', { email, password });
  }

  it.each([
    ['an existing account', async () => (await createUser(server.app)).email],
    ['an unknown email (same behaviour: no enumeration)', async () => `ghost-${Date.now()}@example.com`],
  ])('locks %s after repeated failures, across fresh logins, even for the right password', async (_label, email) => {
    const target = await email();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await attempt(target, 'wrong password!')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
    const locked = await attempt(target, 'correct horse battery staple');
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(locked.html).toContain('Too many attempts');
  });
});
