import type { Context, Next } from 'koa';

/**
 * Security headers on every response (issue #2, #7). No inline script or style anywhere, so the CSP
 * can forbid both. form-action is left open on purpose: a finished login redirects or form-posts to
 * the relying party's registered redirect_uri.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function securityHeaders(opts: { https: boolean }) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } finally {
      ctx.set('Content-Security-Policy', CSP);
      ctx.set('X-Content-Type-Options', 'nosniff');
      ctx.set('X-Frame-Options', 'DENY');
      ctx.set('Referrer-Policy', 'no-referrer');
      ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
      if (opts.https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    }
  };
}
