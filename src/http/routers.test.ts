import { describe, expect, it } from '@jest/globals';
import Router from '@koa/router';
import Koa from 'koa';
import { mountOwnRouters } from './routers.js';

/** Issue #6: stepup's routers run only for their own paths; every other path goes straight on. */
function app() {
  const home = new Router();
  home.get('/', (ctx) => (ctx.body = 'home'));
  const account = new Router();
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

async function call(method: string, path: string): Promise<{ status: number; body: string; passedOn?: string }> {
  const handler = app();
  const { createServer } = await import('node:http');
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
    const passedOn = res.headers.get('x-passed-on') ?? undefined;
    return { status: res.status, body: await res.text(), ...(passedOn ? { passedOn } : {}) };
  } finally {
    server.close();
  }
}

describe('mountOwnRouters', () => {
  it('serves its routes, with and without a trailing slash, and with parameters', async () => {
    expect(await call('GET', '/')).toEqual({ status: 200, body: 'home' });
    expect(await call('GET', '/account')).toEqual({ status: 200, body: 'account' });
    expect(await call('GET', '/account/')).toEqual({ status: 200, body: 'account' });
    expect(await call('POST', '/account/factors/abc/remove')).toEqual({ status: 200, body: 'remove abc' });
    expect(await call('GET', '/admin/api/users')).toEqual({ status: 200, body: 'users' });
  });

  it('answers 405 for another method on its own path (allowedMethods)', async () => {
    expect((await call('DELETE', '/account')).status).toBe(405);
  });

  it('passes every other path on untouched', async () => {
    expect((await call('POST', '/token')).passedOn).toBe('POST /token');
    expect((await call('GET', '/.well-known/openid-configuration')).passedOn).toBe('GET /.well-known/openid-configuration');
    expect((await call('GET', '/accounts')).passedOn).toBe('GET /accounts');
  });
});
