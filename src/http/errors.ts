import type { Context, Next } from 'koa';
import type { Views } from './render.js';

/**
 * Last line of defence for stepup's own routes: a readable page (or JSON problem for API callers),
 * never a stack trace. Store outages become 503 with Retry-After (fail closed, issue #7).
 */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03', '08006', '08001']);

export function isStoreUnavailable(err: unknown): boolean {
  const e = err as { code?: string; name?: string; message?: string };
  return (
    (e.code !== undefined && UNAVAILABLE_CODES.has(e.code)) ||
    e.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|connect ECONNREFUSED|Knex: Timeout acquiring a connection/i.test(e.message ?? '')
  );
}

export function errorPages(views: Views) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (err) {
      const unavailable = isStoreUnavailable(err);
      const exposed = (err as { expose?: boolean; status?: number }).expose && (err as { status?: number }).status;
      const status = unavailable ? 503 : typeof exposed === 'number' ? exposed : 500;
      const log = ctx.state.log ?? console;
      if (status >= 500) log.error({ err }, 'request failed');
      ctx.status = status;
      if (unavailable) ctx.set('Retry-After', '5');
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
