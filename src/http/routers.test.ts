import { describe, expect, it } from '@jest/globals';
import Router from '@koa/router';
import Koa from 'koa';
import { mountOwnRouters, ownedPaths } from './routers.js';

/** Issue #6: stepup's routers run only for their own paths; every other path goes straight on. */
function app() {
  const home = new Router();
  home.get('/', (ctx) => (ctx.body = 'home'));
  const account = new Router();
  // router-wide middleware (as the interaction and account routers have) must not make every path its own
  account.use(async (ctx, next) => {
    ctx.set('x-account-middleware', '1');
    await next();
  });
  account.get('/account', (ctx) => (ctx.body = 'account'));
  account.post('/account/factors/:id/remove', (ctx) => (ctx.body = `remove ${ctx.params.id}`));
  const api = new Router({ prefix: '/admin/api' });
  api.get('/users', (ctx) => (ctx.body = 'users'));
  const koa = new Koa();
  koa.use(mountOwnRouters([home, account, api]));
  // what comes after (oidc-provider in the app) marks that it ran and leaves the answer unset (404)
  koa.use((ctx) => void ctx.set('x-passed-on', `${ctx.method} ${ctx.path}`));
  return koa.callback();
}

async function call(method: string, path: string): Promise<{ status: number; body: string; passedOn?: string; middleware?: string }> {
  const handler = app();
  const { createServer } = await import('node:http');
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
    const passedOn = res.headers.get('x-passed-on') ?? undefined;
    const middleware = res.headers.get('x-account-middleware') ?? undefined;
    return { status: res.status, body: await res.text(), ...(passedOn ? { passedOn } : {}), ...(middleware ? { middleware } : {}) };
  } finally {
    server.close();
  }
}

describe('mountOwnRouters', () => {
  it('serves its routes, with and without a trailing slash, and with parameters', async () => {
    expect(await call('GET', '/')).toEqual({ status: 200, body: 'home' });
    expect(await call('GET', '/account')).toEqual({ status: 200, body: 'account', middleware: '1' });
    expect(await call('GET', '/account/')).toEqual({ status: 200, body: 'account', middleware: '1' });
    expect(await call('POST', '/account/factors/abc/remove')).toEqual({ status: 200, body: 'remove abc', middleware: '1' });
    expect(await call('GET', '/admin/api/users')).toEqual({ status: 200, body: 'users' });
  });

  it('answers 405 for another method on its own path (allowedMethods)', async () => {
    expect((await call('DELETE', '/account')).status).toBe(405);
  });

  it('passes every other path on untouched', async () => {
    expect((await call('POST', '/token')).passedOn).toBe('POST /token');
    expect((await call('GET', '/.well-known/openid-configuration')).passedOn).toBe('GET /.well-known/openid-configuration');
    expect((await call('GET', '/accounts')).passedOn).toBe('GET /accounts');
    expect((await call('GET', '/jwks')).middleware).toBeUndefined();
  });

  it('router-wide middleware does not make a router own every path; prefixes and exact paths do', () => {
    const withMiddleware = new Router();
    withMiddleware.use(async (_ctx, next) => next());
    withMiddleware.get('/interaction/:uid', () => undefined);
    const api = new Router({ prefix: '/admin/api' });
    api.use(async (_ctx, next) => next());
    api.get('/users', () => undefined);
    api.all('{/*rest}', () => undefined); // the API's own 404 for any other path under it
    const home = new Router();
    home.get('/', () => undefined);
    const owns = ownedPaths([withMiddleware, api, home]);
    for (const path of ['/', '/interaction/abc', '/interaction/abc/password', '/admin/api/users', '/admin/api/nope']) expect([path, owns(path)]).toEqual([path, true]);
    for (const path of ['/token', '/jwks', '/me', '/.well-known/openid-configuration', '/auth', '/interaction']) expect([path, owns(path)]).toEqual([path, false]);
  });
});
