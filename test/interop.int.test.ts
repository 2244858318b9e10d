import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { adminApiToken, api } from './support/admin.js';
import { Browser } from './support/browser.js';
import { dropIsolation, newIsolation, testEnv } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { runCli } from './support/process.js';
import { createConfidentialClient, createUser, finish, isCallback, RP_REDIRECT, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/**
 * Issue #14: relying parties that expect RS256 (express-openid-connect's and mod_auth_openidc's
 * defaults, OIDC Dynamic Client Registration §2) sign in and step up; ES256 stays selectable per
 * client, via the CLI and the admin API; signed UserInfo and JWT access tokens per resource.
 */
const iso = newIsolation();
const RESOURCE_ES256 = 'https://es.api.example';
const RESOURCE_DEFAULT = 'https://rs.api.example';
let server: RunningServer;
jest.setTimeout(60_000);

beforeAll(async () => {
  server = await startServer(iso, { RESOURCE_SIGNING_ALGS: `${RESOURCE_ES256}=ES256` });
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

/**
 * An RP pinned to an algorithm, as the RP libraries are: openid-client refuses an ID token (or a
 * signed UserInfo) whose alg differs from the client metadata it was configured with.
 */
async function pinnedRp(clientId: string, clientSecret: string, metadata: Partial<oidc.ClientMetadata>) {
  return oidc.discovery(new URL(server.issuer), clientId, { client_secret: clientSecret, ...metadata }, oidc.ClientSecretBasic(clientSecret), {
    execute: [oidc.allowInsecureRequests],
  });
}

/** Password sign-in, then a step-up of the same session to aal2 with TOTP; both ID tokens returned. */
async function signInAndStepUp(config: oidc.Configuration, resource?: string) {
  const user = await createUser(server.app);
  const totp = await enrollTotp(server.app, user.id);
  const browser = new Browser(server.issuer);
  const first = await startAuthorization(config, { acr_values: 'aal1', resource });
  const afterPassword = await browser.submit(await browser.follow(first.url.toString()), '/password', { email: user.email, password: user.password });
  expect(isCallback(afterPassword)).toBe(true);
  const signedIn = await finish(config, first, afterPassword.url, resource);
  const second = await startAuthorization(config, { claims: { id_token: { acr: { essential: true, values: ['aal2'] } } }, resource });
  const codePage = await browser.follow(second.url.toString());
  expect(codePage.html).not.toContain('autocomplete="current-password"'); // only the missing step
  const afterCode = await browser.submit(codePage, '/totp', { code: await totp.code() });
  expect(isCallback(afterCode)).toBe(true);
  const steppedUp = await finish(config, second, afterCode.url, resource);
  return { user, signedIn, steppedUp };
}

const algOf = (jwt: string) => decodeProtectedHeader(jwt).alg;

describe('discovery', () => {
  it('lists exactly the ID token and UserInfo algorithms stepup holds keys for', async () => {
    const meta = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
    expect(meta.id_token_signing_alg_values_supported).toEqual(['ES256', 'RS256']);
    expect(meta.userinfo_signing_alg_values_supported).toEqual(['ES256', 'RS256']);
  });
});

describe('ID token signature per client', () => {
  it('a client registered without an algorithm gets RS256: an RP with the express-openid-connect / mod_auth_openidc default (RS256) signs in and steps up', async () => {
    const rp = await createConfidentialClient(server.app);
    const config = await pinnedRp(rp.clientId, rp.clientSecret, { id_token_signed_response_alg: 'RS256' });
    const { signedIn, steppedUp } = await signInAndStepUp(config);
    expect(algOf(signedIn.id_token!)).toBe('RS256');
    expect(signedIn.claims()!.acr).toBe('aal1');
    expect(algOf(steppedUp.id_token!)).toBe('RS256');
    expect(steppedUp.claims()).toMatchObject({ acr: 'aal2', amr: expect.arrayContaining(['pwd', 'otp']) });
    // refresh keeps the algorithm and the level
    const refreshed = await oidc.refreshTokenGrant(config, steppedUp.refresh_token!);
    expect(algOf(refreshed.id_token!)).toBe('RS256');
    expect(refreshed.claims()!.acr).toBe('aal2');
  });

  it('a client registered with ES256 gets ES256, and an RP pinned to RS256 refuses its ID tokens (the pin is real)', async () => {
    const rp = await createConfidentialClient(server.app, { idTokenSignedResponseAlg: 'ES256' });
    const es = await pinnedRp(rp.clientId, rp.clientSecret, { id_token_signed_response_alg: 'ES256' });
    const { steppedUp } = await signInAndStepUp(es);
    expect(algOf(steppedUp.id_token!)).toBe('ES256');
    expect(steppedUp.claims()!.acr).toBe('aal2');

    const rs = await pinnedRp(rp.clientId, rp.clientSecret, { id_token_signed_response_alg: 'RS256' });
    // what express-openid-connect reported as OAUTH_INVALID_RESPONSE before issue #14, the other way round
    const refused = await signInAndStepUp(rs).then(
      () => undefined,
      (err: Error & { cause?: { message?: string } }) => err,
    );
    expect(refused?.message).toBe('invalid response encountered');
    expect(String(refused?.cause?.message)).toMatch(/"alg"/);
  });

  it('registered with the CLI: --id-token-signing-alg ES256 or RS256, the default RS256, and a bad value refused', async () => {
    const env = testEnv(iso, server.issuer);
    const secret = 's'.repeat(40);
    const es = await runCli(['client', 'create', '--id', 'cli-es', '--secret', secret, '--redirect-uri', RP_REDIRECT, '--id-token-signing-alg', 'ES256'], env);
    expect(es.code).toBe(0);
    expect(JSON.parse(es.stdout)).toMatchObject({ client_id: 'cli-es', id_token_signed_response_alg: 'ES256' });
    const plain = await runCli(['client', 'create', '--id', 'cli-default', '--secret', secret, '--redirect-uri', RP_REDIRECT], env);
    expect(JSON.parse(plain.stdout)).toMatchObject({ id_token_signed_response_alg: 'RS256' });
    const bad = await runCli(['client', 'create', '--id', 'cli-bad', '--secret', secret, '--redirect-uri', RP_REDIRECT, '--id-token-signing-alg', 'HS256'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unsupported --id-token-signing-alg HS256/);

    const { steppedUp } = await signInAndStepUp(await pinnedRp('cli-es', secret, { id_token_signed_response_alg: 'ES256' }));
    expect(algOf(steppedUp.id_token!)).toBe('ES256');
    const viaDefault = await signInAndStepUp(await pinnedRp('cli-default', secret, { id_token_signed_response_alg: 'RS256' }));
    expect(algOf(viaDefault.steppedUp.id_token!)).toBe('RS256');
  });

  it('registered and changed with the admin API, with signed UserInfo', async () => {
    const { token } = await adminApiToken(server.app, server.issuer);
    const created = await api(server.issuer, token, 'POST', '/clients', { client_id: 'api-rp', redirect_uris: [RP_REDIRECT] });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ id_token_signed_response_alg: 'RS256', userinfo_signed_response_alg: null });
    const secret = created.json.client_secret as string;

    const rs = await pinnedRp('api-rp', secret, { id_token_signed_response_alg: 'RS256' });
    expect(algOf((await signInAndStepUp(rs)).steppedUp.id_token!)).toBe('RS256');

    const updated = await api(server.issuer, token, 'PUT', '/clients/api-rp', { redirect_uris: [RP_REDIRECT], id_token_signed_response_alg: 'ES256', userinfo_signed_response_alg: 'ES256' });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ id_token_signed_response_alg: 'ES256', userinfo_signed_response_alg: 'ES256' });
    const es = await pinnedRp('api-rp', secret, { id_token_signed_response_alg: 'ES256', userinfo_signed_response_alg: 'ES256' });
    const { user, steppedUp } = await signInAndStepUp(es);
    expect(algOf(steppedUp.id_token!)).toBe('ES256');
    // OIDC Core §5.3.2: a signed UserInfo response is a JWT (openid-client verifies it against the pinned alg)
    const res = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${steppedUp.access_token}` } });
    expect(res.headers.get('content-type')).toMatch(/^application\/jwt/);
    const jwt = await res.text();
    expect(algOf(jwt)).toBe('ES256');
    expect(decodeJwt(jwt)).toMatchObject({ sub: user.id, iss: server.issuer, aud: 'api-rp' });
    expect(await oidc.fetchUserInfo(es, steppedUp.access_token, user.id)).toMatchObject({ sub: user.id, email: user.email });

    const refused = await api(server.issuer, token, 'PUT', '/clients/api-rp', { redirect_uris: [RP_REDIRECT], id_token_signed_response_alg: 'none' });
    expect(refused.status).toBe(400);
    expect(refused.json.errors).toEqual([expect.objectContaining({ path: 'id_token_signed_response_alg' })]);
  });
});

describe('JWT access tokens per resource', () => {
  it('RS256 for a resource not configured (RFC 9068 §4), ES256 where RESOURCE_SIGNING_ALGS says so, ES256 for the admin API', async () => {
    const rp = await createConfidentialClient(server.app, { scope: 'read' });
    const config = await pinnedRp(rp.clientId, rp.clientSecret, {});
    const { steppedUp } = await signInAndStepUp(config, RESOURCE_DEFAULT);
    expect(decodeProtectedHeader(steppedUp.access_token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(decodeJwt(steppedUp.access_token)).toMatchObject({ aud: RESOURCE_DEFAULT, acr: 'aal2' });

    const service = await createConfidentialClient(server.app, { grantTypes: ['client_credentials'], redirectUris: [], scope: 'read' });
    const cc = await pinnedRp(service.clientId, service.clientSecret, {});
    expect(algOf((await oidc.clientCredentialsGrant(cc, { scope: 'read', resource: RESOURCE_ES256 })).access_token)).toBe('ES256');
    expect(algOf((await oidc.clientCredentialsGrant(cc, { scope: 'read', resource: RESOURCE_DEFAULT })).access_token)).toBe('RS256');
    expect(algOf((await adminApiToken(server.app, server.issuer)).token)).toBe('ES256');
  });
});
