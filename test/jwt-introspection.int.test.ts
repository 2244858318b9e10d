import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { adminApiToken, api } from './support/admin.js';
import { Browser } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, passwordLogin, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/**
 * Issue #14 / RFC 7662: stepup's own JWT access tokens (RFC 9068) are introspected like opaque ones
 * (oidc-provider alone answers unsupported_token_type), and the caller is still authenticated by
 * oidc-provider.
 */
const iso = newIsolation();
const RESOURCE = 'https://api.example';
let server: RunningServer;
let rp: { clientId: string; clientSecret: string };
let config: oidc.Configuration;

beforeAll(async () => {
  server = await startServer(iso);
  rp = await createConfidentialClient(server.app, { scope: 'read write' });
  config = await discover(server.issuer, rp.clientId, rp.clientSecret);
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** POST /token/introspection as a resource server would send it. */
async function introspect(token: string, auth: Record<string, string> = { authorization: basic(rp.clientId, rp.clientSecret) }, extraHeaders: Record<string, string> = {}) {
  const res = await fetch(`${server.issuer}/token/introspection`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...auth, ...extraHeaders },
    body: new URLSearchParams({ token }),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

async function userJwt() {
  const user = await createUser(server.app);
  const started = await startAuthorization(config, { scope: 'openid read', resource: RESOURCE });
  const cb = await passwordLogin(new Browser(server.issuer), started, user.email, user.password);
  expect(isCallback(cb)).toBe(true);
  const tokens = await finish(config, started, cb.url, RESOURCE);
  expect(tokens.access_token.split('.')).toHaveLength(3);
  return { user, tokens, idClaims: tokens.claims()! };
}

/** A JWT signed with one of stepup's own private keys (what a forger with a stolen key could not do is not the point here). */
async function signWithStepupKey(payload: Record<string, unknown>, typ = 'at+jwt') {
  const keys = await server.app.stores.signingKeys.listPublished();
  const es = keys.find((k) => k.alg === 'ES256' && !k.retiredAt)!;
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ, kid: es.kid }).sign(await importJWK(es.privateJwk as JWK, 'ES256'));
}

describe('introspection of a JWT access token (RFC 7662 §2.2)', () => {
  it('is active with acr, amr, auth_time, scope, client_id, sub, aud, exp, iat, as for an opaque token; openid-client reads it', async () => {
    const { user, tokens, idClaims } = await userJwt();
    const res = await introspect(tokens.access_token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/no-store/);
    expect(res.json).toMatchObject({
      active: true,
      iss: server.issuer,
      client_id: rp.clientId,
      sub: user.id,
      aud: RESOURCE,
      scope: 'read',
      acr: 'aal1',
      amr: ['pwd'],
      auth_time: idClaims.auth_time,
      token_type: 'Bearer',
      exp: expect.any(Number),
      iat: expect.any(Number),
    });
    // the grant reference used for the revocation check is not part of the answer
    expect(res.json).not.toHaveProperty('grant_id');
    expect(await oidc.tokenIntrospection(config, tokens.access_token)).toMatchObject({ active: true, sub: user.id, acr: 'aal1' });
    // a browser-like Accept header still gets JSON
    expect((await introspect(tokens.access_token, undefined, { accept: 'text/html' })).json).toMatchObject({ active: true });
  });

  it('is inactive once its grant is revoked (refresh token revoked, or every session of the user ended)', async () => {
    const viaRevocation = await userJwt();
    expect((await introspect(viaRevocation.tokens.access_token)).json.active).toBe(true);
    // RFC 7009 §2.1: revoking the refresh token revokes the grant and the access tokens with it
    await oidc.tokenRevocation(config, viaRevocation.tokens.refresh_token!);
    expect((await introspect(viaRevocation.tokens.access_token)).json).toEqual({ active: false });

    const viaAdmin = await userJwt();
    expect((await introspect(viaAdmin.tokens.access_token)).json.active).toBe(true);
    const admin = await adminApiToken(server.app, server.issuer);
    expect((await api(server.issuer, admin.token, 'DELETE', `/users/${viaAdmin.user.id}/sessions`)).status).toBe(200);
    expect((await introspect(viaAdmin.tokens.access_token)).json).toEqual({ active: false });
  });

  it('a client credentials JWT is active while its client exists, inactive once the client is deleted', async () => {
    const service = await createConfidentialClient(server.app, { grantTypes: ['client_credentials'], redirectUris: [], scope: 'read' });
    const cc = await discover(server.issuer, service.clientId, service.clientSecret);
    const { access_token } = await oidc.clientCredentialsGrant(cc, { scope: 'read', resource: RESOURCE });
    const asService = { authorization: basic(service.clientId, service.clientSecret) };
    expect((await introspect(access_token, asService)).json).toMatchObject({ active: true, client_id: service.clientId, sub: service.clientId, scope: 'read', aud: RESOURCE });
    const admin = await adminApiToken(server.app, server.issuer);
    const asAdmin = { authorization: basic(admin.clientId, admin.clientSecret) };
    expect((await introspect(access_token, asAdmin)).json.active).toBe(true);
    expect((await api(server.issuer, admin.token, 'DELETE', `/clients/${service.clientId}`)).status).toBe(204);
    expect((await introspect(access_token, asAdmin)).json).toEqual({ active: false });
  });

  it.each([
    ['tampered (payload changed, signature kept)', async (t: string) => {
      const [h, p, s] = t.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
      return `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'read write' })).toString('base64url')}.${s}`;
    }],
    ['signature cut', async (t: string) => `${t.split('.').slice(0, 2).join('.')}.`],
    ['from another issuer (signed with a key of the same stepup)', async (t: string) => {
      const claims = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString());
      return signWithStepupKey({ ...claims, iss: 'https://other-issuer.example' });
    }],
    ['signed by another key, claiming this issuer', async (t: string) => {
      const claims = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString());
      const { privateKey } = await generateKeyPair('ES256');
      return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(privateKey);
    }],
    ['expired', async (t: string) => {
      const claims = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString());
      return signWithStepupKey({ ...claims, iat: claims.iat - 7200, exp: claims.iat - 3600 });
    }],
    ['not an access token (typ JWT, as an ID token)', async (t: string) => signWithStepupKey(JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()), 'JWT')],
    ['naming a grant that does not exist', async (t: string) => {
      const claims = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString());
      return signWithStepupKey({ ...claims, grant_id: 'no-such-grant' });
    }],
    ['a user token without its grant', async (t: string) => {
      const { grant_id: _g, ...claims } = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString());
      return signWithStepupKey(claims);
    }],
    ['the ID token itself', async (_t: string, idToken: string) => idToken],
  ])('is inactive when %s', async (_name, forge) => {
    const { tokens } = await userJwt();
    const forged = await forge(tokens.access_token, tokens.id_token!);
    const res = await introspect(forged);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ active: false });
  });

  it('authenticates the caller as oidc-provider does: no or wrong credentials are refused before the token is looked at', async () => {
    const { tokens } = await userJwt();
    const noAuth = await introspect(tokens.access_token, {});
    expect(noAuth.status).toBe(400);
    expect(noAuth.json.error).toBe('invalid_request');
    const wrong = await introspect(tokens.access_token, { authorization: basic(rp.clientId, 'wrong-secret') });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe('invalid_client');
    const unknown = await introspect(tokens.access_token, { authorization: basic('no-such-client', 'x') });
    expect(unknown.status).toBe(401);
    // another (non-admin) client may not learn about this client's tokens (RFC 7662 §4)
    const other = await createConfidentialClient(server.app);
    expect((await introspect(tokens.access_token, { authorization: basic(other.clientId, other.clientSecret) })).json).toEqual({ active: false });
    // a public client cannot authenticate, so it cannot introspect either
    const spa = await createConfidentialClient(server.app, { clientSecret: undefined });
    const asPublic = await fetch(`${server.issuer}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.access_token, client_id: spa.clientId }),
    });
    expect(((await asPublic.json()) as { active?: boolean }).active).not.toBe(true);
  });
});
