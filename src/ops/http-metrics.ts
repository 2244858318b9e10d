import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Metrics } from './metrics.js';

/**
 * oidc-provider's endpoints under its default routes (SPEC §5), as its router names them in
 * `ctx._matchedRoute`: with stepup's own route templates, the bounded `route` label (issue #17).
 */
export const OIDC_ROUTE_TEMPLATES = [
  '/auth',
  '/auth/:uid',
  '/token',
  '/me',
  '/jwks',
  '/.well-known/openid-configuration',
  '/token/introspection',
  '/token/revocation',
  '/session/end',
  '/session/end/confirm',
  '/session/end/success',
  '/request',
] as const;

/** The path templates of the routers' routes (`/interaction/:uid/totp`), never a request's own path. */
export function routeTemplates(routers: Router[]): string[] {
  return routers.flatMap((router) => router.stack.filter((layer) => layer.methods.length > 0).map((layer) => String(layer.path)));
}

/**
 * Times every request on the public port, labelled with the template of the route that answered
 * (@koa/router's `_matchedRoute`, set by ours and by oidc-provider's router alike). A path no router
 * matched counts under its own path only when it is a known template without parameters (an endpoint
 * answered in front of the provider, e.g. JWT introspection), else as `other`: a scanner's paths never
 * become label values. No await beyond the request itself.
 */
export function httpMetrics(metrics: Pick<Metrics, 'observeRequest'>) {
  return async (ctx: Context, next: Next) => {
    const started = process.hrtime.bigint();
    let thrown: number | undefined;
    try {
      await next();
    } catch (err) {
      thrown = (err as { status?: number }).status ?? 500;
      throw err;
    } finally {
      const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      metrics.observeRequest(typeof matched === 'string' ? matched : ctx.path, ctx.method, thrown ?? ctx.status, Number(process.hrtime.bigint() - started) / 1e9);
    }
  };
}
