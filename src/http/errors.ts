import type { Context, Next } from 'koa';
import { isStoreUnavailable, RETRY_AFTER_SECONDS } from '../oidc/errors.js';
import type { Views } from './render.js';

export { isStoreUnavailable };

/**
 * Last line of defence for stepup's own routes: a readable page (or JSON problem for API callers),
 * never a stack trace. Store outages become 503 with Retry-After (fail closed, issue #7).
 */
export function errorPages(views: Views) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      // issue #15: a path nobody serves gets the styled page (title, lang, landmark, a way on), not Koa's bare "Not Found"
      if (ctx.status === 404 && ctx.body == null) notFound(ctx, views);
      // oidc-provider's own routes answer a store outage with 503 temporarily_unavailable (src/oidc/errors.ts)
      if (ctx.status === 503 && !ctx.response.get('Retry-After')) {
        ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
        (ctx.state.log ?? console).warn({ path: ctx.path }, 'store unavailable: answered 503');
      }
    } catch (err) {
      const unavailable = isStoreUnavailable(err);
      const exposed = (err as { expose?: boolean; status?: number }).expose && (err as { status?: number }).status;
      const status = unavailable ? 503 : typeof exposed === 'number' ? exposed : 500;
      const log = ctx.state.log ?? console;
      if (unavailable) log.warn({ err: { message: (err as Error).message } }, 'store unavailable: answered 503');
      else if (status >= 500) log.error({ err }, 'request failed');
      ctx.status = status;
      if (unavailable) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      const message =
        status === 503
          ? 'stepup is temporarily unavailable. Try again in a few seconds.'
          : status >= 500
            ? 'stepup could not complete the request.'
            : (err as Error).message;
      if (ctx.path.startsWith('/admin/api') || ctx.accepts('html', 'json') === 'json') {
        ctx.type = 'application/problem+json';
        ctx.body = { type: 'about:blank', title: message, status };
      } else {
        ctx.type = 'html';
        ctx.body = views.render('error.njk', { title: status === 503 ? 'Temporarily unavailable' : 'Something went wrong', message, requestId: ctx.state.requestId });
      }
    }
  };
}

function notFound(ctx: Context, views: Views): void {
  ctx.status = 404;
  if (ctx.path.startsWith('/admin/api') || ctx.accepts('html', 'json') === 'json') {
    ctx.type = 'application/problem+json';
    ctx.body = { type: 'about:blank', title: 'Not Found', status: 404 };
    return;
  }
  ctx.type = 'html';
  ctx.body = views.render('not-found.njk', { title: 'Page not found', path: ctx.path.slice(0, 200), requestId: ctx.state.requestId });
}
