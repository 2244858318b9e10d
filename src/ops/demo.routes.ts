import Router from '@koa/router';
import type { Views } from '../http/render.js';

/** The demo client's redirect_uri, served by stepup itself in development so the printed URL ends somewhere readable. */
export function createDemoRouter(views: Views): Router {
  const router = new Router();
  router.get('/demo/callback', (ctx) => {
    const q = ctx.query;
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'html';
    ctx.body = views.render('demo-callback.njk', {
      title: q.error ? 'Sign-in did not complete' : 'Signed in',
      error: typeof q.error === 'string' ? q.error : undefined,
      errorDescription: typeof q.error_description === 'string' ? q.error_description : undefined,
      code: typeof q.code === 'string' ? q.code : undefined,
    });
  });
  return router;
}
