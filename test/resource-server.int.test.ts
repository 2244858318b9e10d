import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { createResourceServer } from 'stepup/resource-server';
import { Browser } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { ROOT } from './support/process.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, passwordLogin, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/**
 * The resource-server kit against a real stepup (issue #21): its JWT access tokens for a resource,
 * its introspection of opaque tokens, the level order from its discovery; and the kit importable on
 * its own, through the package's "exports", without loading anything of the provider.
 */
const API = 'https://api.bank.example';
const iso = newIsolation();
let server: RunningServer;
let rp: { clientId: string; clientSecret: string };
let config: oidc.Configuration;
let user: Awaited<ReturnType<typeof createUser>>;

beforeAll(async () => {
  server = await startServer(iso);
  user = await createUser(server.app);
  rp = await createConfidentialClient(server.app, { scope: 'bank' });
  config = await discover(server.issuer, rp.clientId, rp.clientSecret);
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

async function signIn(resource?: string) {
  const browser = new Browser(server.issuer);
  const started = await startAuthorization(config, { resource, scope: 'openid email bank' });
  const callback = await passwordLogin(browser, started, user.email, user.password);
  expect(isCallback(callback)).toBe(true);
  return finish(config, started, callback.url, resource);
}

const bearer = (token: string) => ({ headers: new Headers({ authorization: `Bearer ${token}` }) });

describe('the kit with stepup', () => {
  it('accepts stepup’s JWT access token for its resource and asks for aal2 with the levels from discovery', async () => {
    const tokens = await signIn(API);
    const rs = createResourceServer({ issuer: server.issuer, audience: API });
    const ok = await rs.check(bearer(tokens.access_token), { acr: 'aal1', maxAge: 300, scope: 'bank' });
    expect(ok).toMatchObject({ ok: true, token: { format: 'jwt', sub: user.id, acr: 'aal1', amr: ['pwd'], clientId: rp.clientId, scopes: ['bank'] } });
    const more = await rs.check(bearer(tokens.access_token), { acr: 'aal2', maxAge: 300 });
    expect(more).toMatchObject({
      ok: false,
      status: 401,
      headers: { 'WWW-Authenticate': 'Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="aal2", max_age=300' },
    });
    // another API's kit refuses it: the audience is the resource it was issued for
    const other = createResourceServer({ issuer: server.issuer, audience: 'https://other.example' });
    expect(await other.check(bearer(tokens.access_token))).toMatchObject({ ok: false, body: { error: 'invalid_token', error_description: 'The access token was not issued for this API.' } });
    // the ID token is no access token (typ JWT, audience the client)
    expect(await rs.check(bearer(tokens.id_token!))).toMatchObject({ ok: false, body: { error: 'invalid_token' } });
  });

  it('introspects stepup’s opaque access token with the API’s client, and refuses a refresh token or a stranger’s client', async () => {
    const tokens = await signIn();
    expect(tokens.access_token.split('.')).toHaveLength(1);
    const rs = createResourceServer({ issuer: server.issuer, audience: API, introspection: { clientId: rp.clientId, clientSecret: rp.clientSecret } });
    expect(await rs.check(bearer(tokens.access_token), { acr: 'aal1' })).toMatchObject({ ok: true, token: { format: 'opaque', sub: user.id, acr: 'aal1', amr: ['pwd'] } });
    expect(await rs.check(bearer(tokens.refresh_token!))).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token', error_description: 'The token is not a bearer access token.' } });

    // a client that did not get the token learns nothing about it from stepup (active: false)
    const stranger = await createConfidentialClient(server.app);
    const rs2 = createResourceServer({ issuer: server.issuer, audience: API, introspection: { clientId: stranger.clientId, clientSecret: stranger.clientSecret } });
    expect(await rs2.check(bearer(tokens.access_token))).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token' } });
  });

  it('is importable on its own as stepup/resource-server: nothing of the provider, Koa or the stores is loaded', async () => {
    // an ESM resolve hook refuses the provider's packages and any project module outside src/resource-server
    const hook = `export async function resolve(specifier, context, next) {
      const r = await next(specifier, context);
      const bad = /^(oidc-provider|koa|@koa\\/router|knex|pg|ioredis|@electric-sql\\/pglite)$/.test(specifier) || (r.url.includes('/src/') && !r.url.includes('/src/resource-server/'));
      if (bad) throw new Error('refused ' + specifier);
      return r;
    }`;
    const script = `import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
      const kit = await import('stepup/resource-server');
      process.stdout.write(JSON.stringify(Object.keys(kit).sort()));`;
    // async, not spawnSync: a worker blocked for seconds fails to exit gracefully afterwards
    const run = await promisify(execFile)(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(run.stderr).not.toContain('refused');
    expect(JSON.parse(run.stdout)).toEqual(['ResourceServerConfigError', 'bearerChallenge', 'createResourceServer', 'satisfiesAcr']);
  });
});
