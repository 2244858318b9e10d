import type Router from '@koa/router';
import compose from 'koa-compose';
import type { Middleware } from 'koa';

/**
 * stepup's own routers, mounted in front of oidc-provider, as one middleware that only runs for the
 * paths they serve. Issue #6: mounted one by one, every protocol request (/token, /me, /jwks…) went
 * through each router's path matching and allowedMethods (14 middlewares) before reaching the
 * provider; now those requests pass with one prefix check.
 *
 * A route path's static part (before its first parameter) is the prefix it can match; a path without
 * parameters matches exactly (with or without a trailing slash, as @koa/router's non-strict default).
 */
export function mountOwnRouters(routers: Router[]): Middleware {
  const owns = ownedPaths(routers);
  const middleware = compose(routers.flatMap((router) => [router.routes(), router.allowedMethods()]) as Middleware[]);
  return (ctx, next) => (owns(ctx.path) ? middleware(ctx, next) : next());
}

/** Whether a request path can match one of the routers' routes. */
export function ownedPaths(routers: Router[]): (path: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const router of routers) {
    for (const layer of router.stack) {
      // router.use() middleware (no methods) runs only when one of the router's routes matches
      if (layer.methods.length === 0) continue;
      const path = String(layer.path);
      // the first parameter, wildcard, group or optional part (path-to-regexp 8: `:id`, `*rest`, `{…}`)
      const param = path.search(/[:(*{]/);
      if (param === -1) exact.add(path.replace(/\/+$/, '') || '/');
      else prefixes.push(path.slice(0, param));
    }
  }
  return (path: string) => exact.has(path.replace(/\/+$/, '') || '/') || prefixes.some((p) => path.startsWith(p));
}
