import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import { createAccessLogger, type Logger } from '../ops/logger.js';

/** A request id on every request and response, and one access log line per request (no query strings: they carry codes). */
export function requestContext(logger: Logger) {
  const access = createAccessLogger(logger);
  return async (ctx: Context, next: Next) => {
    const incoming = ctx.get('x-request-id');
    const id = /^[A-Za-z0-9._-]{8,128}$/.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = id;
    // the request's logger (redacting), made only when a handler logs something (issue #6)
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { get: () => (child ??= logger.child({ requestId: id })), configurable: true, enumerable: true });
    ctx.set('X-Request-Id', id);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      access.info({ requestId: id, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 }, 'request');
    }
  };
}
