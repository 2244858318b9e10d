import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { Browser } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createConfidentialClient, createUser, discover, passwordLogin, RP_REDIRECT, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/** Malformed step-up inputs get a clear error, never a 500 or a stack trace (issue #3, SPEC "bad input"). */
const iso = newIsolation();
let server: RunningServer;
let config: oidc.Configuration;
let clientId: string;
let browser: Browser;

beforeAll(async () => {
  server = await startServer(iso);
  const rp = await createConfidentialClient(server.app);
  clientId = rp.clientId;
  config = await discover(server.issuer, rp.clientId, rp.clientSecret);
  const user = await createUser(server.app);
  browser = new Browser(server.issuer);
  await passwordLogin(browser, await startAuthorization(config), user.email, user.password); // a signed-in session
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

function authUrl(extra: Record<string, string>) {
  const url = new URL(`${server.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: RP_REDIRECT,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    state: 'st',
    ...extra,
  }).toString();
  return url.toString();
}

describe.each([
  ['huge acr_values', { acr_values: 'x'.repeat(5000) }],
  ['many acr_values', { acr_values: Array.from({ length: 500 }, (_, i) => `v${i}`).join(' ') }],
  ['acr_values with control characters', { acr_values: 'aal2\u0000\n\taal1' }],
  ['claims that is not JSON', { claims: '{not json' }],
  ['claims that is an array', { claims: '[1,2]' }],
  ['claims acr of the wrong type', { claims: JSON.stringify({ id_token: { acr: 'aal2' } }) }],
  ['claims acr values not strings', { claims: JSON.stringify({ id_token: { acr: { essential: true, values: [1, {}, null] } } }) }],
  ['negative max_age', { max_age: '-1' }],
  ['non-numeric max_age', { max_age: 'soon' }],
  ['huge max_age', { max_age: '99999999999999999999' }],
  ['unknown prompt', { prompt: 'teleport' }],
  ['prompt none with login', { prompt: 'none login' }],
  ['a NUL byte in client_id', { client_id: 'rp\u0000' }],
])('%s', (_label, extra) => {
  it('answers without a server error, redirecting an OIDC error or proceeding', async () => {
    const page = await browser.request(authUrl(extra as Record<string, string>));
    expect(page.status).toBeLessThan(500);
    expect(page.html).not.toMatch(/at .+\.(js|ts):\d+/);
    const location = page.headers.get('location');
    if (location?.startsWith(RP_REDIRECT)) {
      const err = new URL(location).searchParams.get('error');
      if (err) expect(['invalid_request', 'unmet_authentication_requirements', 'login_required', 'consent_required']).toContain(err);
    }
  });
});

describe.each([
  ['acr_values', 'aal2', 'aal1'],
  ['max_age', '0', '-5'],
  ['claims', JSON.stringify({ id_token: { acr: { essential: true, values: ['aal2'] } } }), '{}'],
  ['prompt', 'login', 'none'],
])('%s given twice', (name, first, second) => {
  it('is refused with invalid_request at the redirect_uri (OAuth 2.0 §3.1), never a 500', async () => {
    const url = new URL(authUrl({}));
    url.searchParams.append(name, first);
    url.searchParams.append(name, second);
    const page = await browser.request(url.toString());
    expect(page.status).toBeLessThan(500);
    const location = new URL(page.headers.get('location')!);
    expect(location.href.startsWith(RP_REDIRECT)).toBe(true);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('state')).toBe('st');
  });
});

describe('hostile form posts', () => {
  async function loginForm() {
    const b = new Browser(server.issuer);
    const page = await b.follow((await startAuthorization(config)).url.toString());
    return { b, page };
  }

  it.each([
    ['NUL in the email', { email: 'a\u0000@example.com', password: 'whatever' }],
    ['NUL in the password', { email: 'a@example.com', password: 'pass\u0000word' }],
    ['a 300-character email', { email: `${'a'.repeat(290)}@example.com`, password: 'x' }],
    ['a 10 kB password', { email: 'a@example.com', password: 'p'.repeat(10_000) }],
    ['no fields at all', {}],
  ])('%s gets the generic login error, not a server error', async (_label, fields) => {
    const { b, page } = await loginForm();
    const res = await b.submit(page, '/password', fields as Record<string, string>);
    expect(res.status).toBe(401);
    expect(res.html).toContain('Incorrect email or password.');
  });

  it('refuses an oversized body with 413, not a 500', async () => {
    const { b, page } = await loginForm();
    const res = await b.submit(page, '/password', { email: 'a@example.com', password: 'p'.repeat(40_000) });
    expect(res.status).toBe(413);
    expect(res.html).not.toMatch(/at .+\.(js|ts):\d+/);
  });

  it('repeated fields (arrays) are treated as missing', async () => {
    const { b, page } = await loginForm();
    const form = /action="([^"]*\/password)"/.exec(page.html)![1]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.html)![1]!;
    const body = new URLSearchParams([['_csrf', csrf], ['email', 'a@example.com'], ['email', 'b@example.com'], ['password', 'x']]);
    const res = await b.request(form, { method: 'POST', body });
    expect(res.status).toBe(401);
  });
});
