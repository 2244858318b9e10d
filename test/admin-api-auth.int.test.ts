import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { importJWK, SignJWT, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { adminApiToken, api } from './support/admin.js';
import { Browser } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, passwordLogin, RP_REDIRECT, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/**
 * Issue #14: the admin API's one rule, as the README states it. An active token of this issuer (as
 * introspection would say) that does not grant scope `admin` for the admin API → 403
 * `insufficient_scope`; a token that is not active (missing, unknown, forged, expired, its grant
 * revoked, its client deleted) → 401 `invalid_token`.
 */
const iso = newIsolation();
let server: RunningServer;
let introspector: Awaited<ReturnType<typeof adminApiToken>>;
const OTHER_RESOURCE = 'https://reports.example';

beforeAll(async () => {
  server = await startServer(iso);
  // an admin API client may introspect any token: it tells what "active" means for each case below
  introspector = await adminApiToken(server.app, server.issuer);
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

async function introspectionSays(token: string): Promise<boolean> {
  const res = await fetch(`${server.issuer}/token/introspection`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${introspector.clientId}:${introspector.clientSecret}`).toString('base64')}` },
    body: new URLSearchParams({ token }),
  });
  return ((await res.json()) as { active: boolean }).active;
}

async function serviceToken(scope: string, resource?: string) {
  const service = await createConfidentialClient(server.app, { grantTypes: ['client_credentials'], redirectUris: [], scope });
  const cfg = await discover(server.issuer, service.clientId, service.clientSecret);
  return { ...service, token: (await oidc.clientCredentialsGrant(cfg, { scope, ...(resource ? { resource } : {}) })).access_token };
}

async function userToken(opts: { resource?: string; scope?: string; clientScope?: string; clientId?: string; clientSecret?: string } = {}) {
  const user = await createUser(server.app);
  const rp = opts.clientId ? { clientId: opts.clientId, clientSecret: opts.clientSecret! } : await createConfidentialClient(server.app, { scope: opts.clientScope ?? 'reports' });
  const cfg = await discover(server.issuer, rp.clientId, rp.clientSecret);
  const started = await startAuthorization(cfg, { scope: opts.scope ?? 'openid', resource: opts.resource });
  const cb = await passwordLogin(new Browser(server.issuer), started, user.email, user.password);
  expect(isCallback(cb)).toBe(true);
  return { user, token: (await finish(cfg, started, cb.url, opts.resource)).access_token };
}

const isJwt = (t: string) => t.split('.').length === 3;

type Case = [name: string, make: () => Promise<string | undefined>, expected: { status: 401 | 403; jwt?: boolean }];

const cases: Case[] = [
  // active, lacking scope admin or the audience → 403
  ['an opaque client credentials token of a non-admin client (the issue)', async () => (await serviceToken('reports')).token, { status: 403, jwt: false }],
  ['a client credentials JWT for another resource', async () => (await serviceToken('reports', OTHER_RESOURCE)).token, { status: 403, jwt: true }],
  ["a user's opaque access token", async () => (await userToken()).token, { status: 403, jwt: false }],
  ["a user's JWT for another resource", async () => (await userToken({ resource: OTHER_RESOURCE, scope: 'openid reports' })).token, { status: 403, jwt: true }],
  [
    "a user's JWT for the admin API, through an admin client (not client credentials)",
    async () => {
      const c = await createConfidentialClient(server.app, { grantTypes: ['authorization_code', 'client_credentials'], redirectUris: [RP_REDIRECT], scope: 'admin' });
      return (await userToken({ clientId: c.clientId, clientSecret: c.clientSecret, resource: `${server.issuer}/admin/api`, scope: 'openid admin' })).token;
    },
    { status: 403, jwt: true },
  ],
  [
    'an admin token of a client whose admin scope was taken away',
    async () => {
      const t = await adminApiToken(server.app, server.issuer);
      const c = (await server.app.stores.clients.find(t.clientId))!;
      await server.app.stores.clients.update(t.clientId, { ...c, scope: 'reports' });
      return t.token;
    },
    { status: 403, jwt: true },
  ],
  // not active → 401
  ['no token', async () => undefined, { status: 401 }],
  ['an unknown opaque token', async () => 'x'.repeat(43), { status: 401 }],
  ['a forged JWT (signature replaced)', async () => `${(await adminApiToken(server.app, server.issuer)).token.split('.').slice(0, 2).join('.')}.${'A'.repeat(86)}`, { status: 401 }],
  [
    'an expired admin JWT (signed with stepup’s own key)',
    async () => {
      const t = await adminApiToken(server.app, server.issuer);
      const claims = JSON.parse(Buffer.from(t.token.split('.')[1]!, 'base64url').toString());
      const key = (await server.app.stores.signingKeys.listPublished()).find((k) => k.alg === 'ES256' && !k.retiredAt)!;
      return new SignJWT({ ...claims, iat: claims.iat - 3600, exp: claims.iat - 1800 }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid }).sign(await importJWK(key.privateJwk as JWK, 'ES256'));
    },
    { status: 401 },
  ],
  [
    "a deleted admin client's JWT",
    async () => {
      const t = await adminApiToken(server.app, server.issuer);
      expect((await api(server.issuer, t.token, 'GET', '/users')).status).toBe(200);
      expect((await api(server.issuer, introspector.token, 'DELETE', `/clients/${t.clientId}`)).status).toBe(204);
      return t.token;
    },
    { status: 401, jwt: true },
  ],
  [
    "a deleted client's opaque client credentials token",
    async () => {
      const t = await serviceToken('reports');
      expect((await api(server.issuer, introspector.token, 'DELETE', `/clients/${t.clientId}`)).status).toBe(204);
      return t.token;
    },
    { status: 401, jwt: false },
  ],
  [
    "a deleted client's user (opaque) token",
    async () => {
      const rp = await createConfidentialClient(server.app);
      const t = await userToken({ clientId: rp.clientId, clientSecret: rp.clientSecret });
      expect((await api(server.issuer, introspector.token, 'DELETE', `/clients/${rp.clientId}`)).status).toBe(204);
      return t.token;
    },
    { status: 401, jwt: false },
  ],
  [
    "a user's opaque token after every session of the user was revoked",
    async () => {
      const t = await userToken();
      expect((await api(server.issuer, introspector.token, 'DELETE', `/users/${t.user.id}/sessions`)).status).toBe(200);
      return t.token;
    },
    { status: 401, jwt: false },
  ],
];

describe('admin API authorization (README "Admin API"): 403 for an active token without scope admin, 401 otherwise', () => {
  it.each(cases)('%s', async (_name, make, expected) => {
    const token = await make();
    if (token && expected.jwt !== undefined) expect(isJwt(token)).toBe(expected.jwt);
    const res = await api(server.issuer, token, 'GET', '/users');
    expect(res.status).toBe(expected.status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const challenge = res.headers.get('www-authenticate')!;
    if (expected.status === 403) expect(challenge).toMatch(/^Bearer realm="stepup admin API", error="insufficient_scope", .*scope="admin"$/);
    else if (token) expect(challenge).toMatch(/^Bearer realm="stepup admin API", error="invalid_token"/);
    else expect(challenge).toBe('Bearer realm="stepup admin API"');
    // one rule: 403 exactly when introspection calls the token active
    if (token) expect(await introspectionSays(token)).toBe(expected.status === 403);
  });

  it('a valid admin token is let in', async () => {
    expect((await api(server.issuer, introspector.token, 'GET', '/users')).status).toBe(200);
    expect(await introspectionSays(introspector.token)).toBe(true);
  });
});
