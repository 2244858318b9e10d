import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Router from '@koa/router';

/** The few static assets stepup serves itself (no CDN): loaded once, served with a long cache. */
const ASSETS: Record<string, string> = { 'stepup.css': 'text/css; charset=utf-8', 'admin.css': 'text/css; charset=utf-8', 'webauthn.js': 'text/javascript; charset=utf-8', 'recovery-codes.js': 'text/javascript; charset=utf-8' };

const require = createRequire(import.meta.url);

/** @simplewebauthn/browser's UMD bundle (global SimpleWebAuthnBrowser), served from the installed package. */
function webauthnBrowserBundle(): Buffer {
  // the package exports only its entry points: resolve the CommonJS one (<pkg>/script/index.js) and walk up
  const entry = require.resolve('@simplewebauthn/browser');
  return readFileSync(join(entry, '..', '..', 'dist', 'bundle', 'index.umd.min.js'));
}

export function createStaticRouter(viewsDir: string): Router {
  const router = new Router();
  const files = new Map<string, { type: string; body: Buffer }>(Object.entries(ASSETS).map(([name, type]) => [name, { type, body: readFileSync(join(viewsDir, 'static', name)) }]));
  files.set('simplewebauthn-browser.js', { type: 'text/javascript; charset=utf-8', body: webauthnBrowserBundle() });
  router.get('/static/:name', (ctx) => {
    const file = files.get(ctx.params.name ?? '');
    if (!file) return;
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = file.body;
  });
  return router;
}
