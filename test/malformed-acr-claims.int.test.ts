import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { Browser } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, passwordLogin, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/**
 * Issue #14 / OIDC Core §5.5.1: a malformed `acr` claim request is refused with invalid_request at
 * the RP's redirect_uri (with state and iss), never downgraded to a code at the session's level.
 */
const iso = newIsolation();
let server: RunningServer;
let config: oidc.Configuration;
let browser: Browser;

beforeAll(async () => {
  server = await startServer(iso);
  const rp = await createConfidentialClient(server.app);
  config = await discover(server.issuer, rp.clientId, rp.clientSecret);
  // an aal1 (password) session: what a lenient reading would have handed a code with acr=aal1
  const user = await createUser(server.app);
  browser = new Browser(server.issuer);
  const started = await startAuthorization(config);
  const tokens = await finish(config, started, (await passwordLogin(browser, started, user.email, user.password)).url);
  expect(tokens.claims()!.acr).toBe('aal1');
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

describe('a malformed acr in the claims parameter', () => {
  it.each<[string, unknown]>([
    ['values as a string', { id_token: { acr: { essential: true, values: 'aal2' } } }],
    ['value as an array', { id_token: { acr: { essential: true, value: ['aal2'] } } }],
    ['essential as a string', { id_token: { acr: { essential: 'true', values: ['aal2'] } } }],
    ['acr as a string', { id_token: { acr: 'aal2' } }],
    ['nested junk in values', { id_token: { acr: { essential: true, values: [['aal2'], { acr: 'phr' }] } } }],
    ['an object as value', { id_token: { acr: { essential: true, value: { $ne: 'aal1' } } } }],
    ['values empty', { id_token: { acr: { essential: true, values: [] } } }],
    ['value and values both', { id_token: { acr: { essential: true, value: 'aal1', values: ['aal2'] } } }],
    ['malformed in userinfo', { userinfo: { acr: { essential: true, values: 'aal2' } } }],
  ])('%s → invalid_request at the redirect_uri with state and iss, no code', async (_name, claims) => {
    const started = await startAuthorization(config, { claims: claims as object });
    const page = await browser.follow(started.url.toString());
    expect(isCallback(page)).toBe(true);
    const params = new URL(page.url).searchParams;
    expect(params.get('error')).toBe('invalid_request');
    expect(params.get('error_description')).toMatch(/^claims\.(id_token|userinfo)\.acr/);
    expect(params.get('state')).toBe(started.state);
    expect(params.get('iss')).toBe(server.issuer);
    expect(params.has('code')).toBe(false);
  });

  it("oidc-provider's own check of the other members is kept", async () => {
    const started = await startAuthorization(config, { claims: { id_token: { email: 'yes please' } } });
    const page = await browser.follow(started.url.toString());
    expect(isCallback(page)).toBe(true);
    expect(Object.fromEntries(new URL(page.url).searchParams)).toMatchObject({ error: 'invalid_request', error_description: 'claims.id_token members must be null or objects', state: started.state });
  });

  it('a well-formed essential acr the session does not hold still asks for the step (the rule refuses only malformed ones)', async () => {
    const started = await startAuthorization(config, { claims: { id_token: { acr: { essential: true, values: ['aal2'] } } } });
    const page = await browser.follow(started.url.toString());
    expect(isCallback(page)).toBe(false);
    expect(page.url).toContain('/interaction/');
  });

  it('a well-formed essential acr the session holds gets its code', async () => {
    const started = await startAuthorization(config, { claims: { id_token: { acr: { essential: true, value: 'aal1' } } } });
    const page = await browser.follow(started.url.toString());
    expect(isCallback(page)).toBe(true);
    expect((await finish(config, started, page.url)).claims()!.acr).toBe('aal1');
  });
});
