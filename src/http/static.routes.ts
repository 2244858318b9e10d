import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Router from '@koa/router';

/** The few static assets stepup serves itself (no CDN): loaded once, served with a long cache. */
const ASSETS: Record<string, string> = { 'stepup.css': 'text/css; charset=utf-8' };

export function createStaticRouter(viewsDir: string): Router {
  const router = new Router();
  const files = new Map(Object.entries(ASSETS).map(([name, type]) => [name, { type, body: readFileSync(join(viewsDir, 'static', name)) }]));
  router.get('/static/:name', (ctx) => {
    const file = files.get(ctx.params.name ?? '');
    if (!file) return;
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = file.body;
  });
  return router;
}
