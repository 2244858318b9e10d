import {
  insufficientScope,
  insufficientUserAuthentication,
  invalidRequest,
  invalidToken,
  missingToken,
  unavailable,
  type Refusal,
} from './challenge.js';
import { satisfiesAcr } from './levels.js';
import { AuthorizationServerUnavailable, createIntrospector, createJwtVerifier, looksLikeJwt, TokenRejected, type VerifiedToken } from './tokens.js';

/**
 * The resource-server kit (issue #21): what an API needs to accept stepup's access tokens and to ask
 * for a step-up with RFC 9470. Framework-free at its core (`check`), with Koa and Express-style
 * middleware around it. It depends on `jose` only: importing it starts nothing of the provider.
 */

/** What one route needs. */
export interface Requirement {
  /** the lowest acceptable level; a higher one in the authorization server's order also satisfies it */
  acr?: string;
  /** seconds since the user's last active authentication (`auth_time`) */
  maxAge?: number;
  /** scope(s) the token must grant (RFC 6750 insufficient_scope otherwise) */
  scope?: string | string[];
}

export interface ResourceServerOptions {
  /** the authorization server's issuer, exactly as in its discovery document */
  issuer: string;
  /** this API's resource indicator (RFC 8707): the `aud` of the JWT access tokens it accepts */
  audience: string;
  /** the level order, lowest first; default: discovery's `acr_values_supported` */
  acrValues?: readonly string[];
  /** default: discovery's `jwks_uri` */
  jwksUri?: string;
  /** to accept opaque tokens: this API's own client at the authorization server (RFC 7662) */
  introspection?: {
    clientId: string;
    clientSecret: string;
    /** default: discovery's `introspection_endpoint` */
    endpoint?: string;
    /** how long an answer is reused (default 30 s, at most 300): a revoked token stays usable that long */
    cacheSeconds?: number;
    /** default 10,000 */
    maxCacheEntries?: number;
  };
  /** signature algorithms accepted (default: the asymmetric JWS algorithms; never `none` or HMAC) */
  algorithms?: string[];
  /** allowed clock skew for `exp`, `nbf` and `iat` (default 5 s) */
  clockToleranceSeconds?: number;
  /** `realm` of the challenges */
  realm?: string;
  /** epoch seconds (tests pass a controllable clock) */
  now?: () => number;
  fetch?: typeof fetch;
  /** pino-like; gets the reason of every refusal, never a token or a secret */
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export type CheckResult = { ok: true; token: VerifiedToken } | Refusal;

/** Anything with headers: a Fetch `Request`, Node's `IncomingMessage`, a Koa or Express request. */
export interface RequestLike {
  headers: Headers | Record<string, string | string[] | undefined>;
}

const DEFAULT_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA'];
const DEFAULT_INTROSPECTION_CACHE_SECONDS = 30;
const MAX_INTROSPECTION_CACHE_SECONDS = 300;
const RETRY_AFTER_SECONDS = 5;
const FETCH_TIMEOUT_MS = 5_000;
// RFC 6750 §2.1: b64token
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

interface Discovery {
  issuer: string;
  jwks_uri?: string;
  introspection_endpoint?: string;
  acr_values_supported?: string[];
}

function authorizationHeader(headers: RequestLike['headers']): string | undefined {
  const value = typeof (headers as Headers).get === 'function' ? (headers as Headers).get('authorization') : (headers as Record<string, string | string[] | undefined>).authorization;
  if (Array.isArray(value)) return value.length === 1 ? value[0] : value.join(', ');
  return value ?? undefined;
}

export class ResourceServerConfigError extends Error {}

export function createResourceServer(options: ResourceServerOptions) {
  const issuer = options.issuer.replace(/\/$/, '');
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const doFetch = options.fetch ?? fetch;
  const realm = options.realm;
  const log = options.logger;
  const clockToleranceSeconds = options.clockToleranceSeconds ?? 5;

  // discovery is fetched when first needed (the API may start before the authorization server), and again after a failure
  let discovery: Promise<Discovery> | undefined;
  const discover = () =>
    (discovery ??= (async () => {
      let res: Response;
      try {
        res = await doFetch(`${issuer}/.well-known/openid-configuration`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      } catch (err) {
        throw new AuthorizationServerUnavailable('discovery could not be fetched', { cause: err });
      }
      if (res.status !== 200) throw new AuthorizationServerUnavailable(`discovery answered ${res.status}`);
      const doc = (await res.json().catch(() => undefined)) as Discovery | undefined;
      // OpenID Connect Discovery §4.3: the document's issuer must be exactly the one asked for
      if (!doc || doc.issuer !== issuer) throw new AuthorizationServerUnavailable('discovery document does not name the expected issuer');
      return doc;
    })().catch((err) => {
      discovery = undefined;
      throw err;
    }));

  const fromDiscovery = async (field: 'jwks_uri' | 'introspection_endpoint'): Promise<string> => {
    const value = (await discover())[field];
    if (typeof value !== 'string') throw new AuthorizationServerUnavailable(`discovery has no ${field}`);
    return value;
  };

  const levelOrder = async (): Promise<readonly string[]> => {
    if (options.acrValues) return options.acrValues;
    const supported = (await discover()).acr_values_supported;
    if (!Array.isArray(supported) || supported.length === 0) throw new AuthorizationServerUnavailable('discovery has no acr_values_supported');
    return supported;
  };

  const verifyJwt = createJwtVerifier({
    issuer,
    audience: options.audience,
    jwksUri: async () => options.jwksUri ?? fromDiscovery('jwks_uri'),
    algorithms: (options.algorithms ?? DEFAULT_ALGORITHMS).filter((a) => a !== 'none' && !a.startsWith('HS')),
    clockToleranceSeconds,
    now,
  });

  const intro = options.introspection;
  const introspect = intro
    ? createIntrospector({
        issuer,
        audience: options.audience,
        endpoint: async () => intro.endpoint ?? fromDiscovery('introspection_endpoint'),
        clientId: intro.clientId,
        clientSecret: intro.clientSecret,
        cacheSeconds: Math.min(Math.max(intro.cacheSeconds ?? DEFAULT_INTROSPECTION_CACHE_SECONDS, 0), MAX_INTROSPECTION_CACHE_SECONDS),
        maxCacheEntries: intro.maxCacheEntries ?? 10_000,
        clockToleranceSeconds,
        now,
        fetch: doFetch,
        timeoutMs: FETCH_TIMEOUT_MS,
      })
    : undefined;

  // a level the authorization server does not know can never be reached: a programming error, said at once
  if (options.acrValues) {
    for (const acr of options.acrValues) if (typeof acr !== 'string' || !acr) throw new ResourceServerConfigError('acrValues must be non-empty strings');
  }
  const validate = (req: Requirement) => {
    if (req.acr !== undefined && options.acrValues && !options.acrValues.includes(req.acr)) {
      throw new ResourceServerConfigError(`acr ${req.acr} is not one of acrValues (${options.acrValues.join(', ')})`);
    }
    if (req.maxAge !== undefined && (!Number.isInteger(req.maxAge) || req.maxAge < 0)) throw new ResourceServerConfigError('maxAge must be a non-negative integer (seconds)');
    return req;
  };

  const refused = (r: Refusal, detail: object): Refusal => {
    log?.info({ ...detail, status: r.status, error: r.body.error ?? 'missing_token' }, 'access token refused');
    return r;
  };

  async function verify(token: string): Promise<VerifiedToken> {
    if (looksLikeJwt(token)) return verifyJwt(token);
    if (introspect) return (await introspect(token)).token;
    throw new TokenRejected('opaque_not_accepted', 'This API accepts JWT access tokens only.');
  }

  /**
   * Checks one request against a route's requirement. `{ ok: true, token }`, or the answer to send
   * as it is: status, headers (`WWW-Authenticate` among them) and a JSON body.
   */
  async function check(request: RequestLike, requirement: Requirement = {}): Promise<CheckResult> {
    validate(requirement);
    const header = authorizationHeader(request.headers);
    // RFC 6750 §3.1: no authentication information at all → a bare challenge
    if (!header || !/^bearer(\s|$)/i.test(header.trimStart())) return refused(missingToken(realm), { reason: 'no_bearer_token' });
    const token = header.trimStart().slice(6).trim();
    if (!B64TOKEN.test(token)) return refused(invalidRequest('The Authorization header does not carry one well-formed bearer token.', realm), { reason: 'malformed_header' });

    let verified: VerifiedToken;
    try {
      verified = await verify(token);
    } catch (err) {
      if (err instanceof TokenRejected) return refused(invalidToken(err.description, realm), { reason: err.reason });
      if (err instanceof AuthorizationServerUnavailable) {
        log?.warn({ reason: 'authorization_server_unavailable', detail: err.message }, 'access token could not be checked: answered 503');
        return unavailable(RETRY_AFTER_SECONDS);
      }
      throw err;
    }
    const who = { sub: verified.sub, client_id: verified.clientId, jti: verified.claims.jti };

    const scopes = requirement.scope === undefined ? [] : Array.isArray(requirement.scope) ? requirement.scope : requirement.scope.split(' ').filter(Boolean);
    const missing = scopes.filter((s) => !verified.scopes.includes(s));
    if (missing.length) return refused(insufficientScope(scopes.join(' '), realm), { ...who, reason: 'insufficient_scope', missing });

    if (requirement.acr !== undefined) {
      let order: readonly string[];
      try {
        order = await levelOrder();
      } catch (err) {
        log?.warn({ reason: 'authorization_server_unavailable', detail: (err as Error).message }, 'level order unknown: answered 503');
        return unavailable(RETRY_AFTER_SECONDS);
      }
      if (!order.includes(requirement.acr)) throw new ResourceServerConfigError(`acr ${requirement.acr} is not one of the authorization server's levels (${order.join(', ')})`);
      if (!satisfiesAcr(order, verified.acr, requirement.acr)) {
        return refused(
          insufficientUserAuthentication({ acrValues: requirement.acr, maxAge: requirement.maxAge, description: 'A different authentication level is required', realm }),
          { ...who, reason: 'acr_too_low', acr: verified.acr, required: requirement.acr },
        );
      }
    }
    if (requirement.maxAge !== undefined) {
      // RFC 9470 §3: the user must have authenticated within max_age; a token without auth_time cannot show it
      const age = verified.authTime === undefined ? undefined : now() - verified.authTime;
      if (age === undefined || age > requirement.maxAge) {
        return refused(
          insufficientUserAuthentication({ acrValues: requirement.acr, maxAge: requirement.maxAge, description: 'More recent authentication is required', realm }),
          { ...who, reason: 'authentication_too_old', age, max_age: requirement.maxAge },
        );
      }
    }
    return { ok: true, token: verified };
  }

  return {
    check,
    /** Koa middleware: refuses with the RFC 6750 / RFC 9470 answer, else puts the token on `ctx.state.auth`. */
    koa(requirement: Requirement = {}) {
      validate(requirement);
      return async (ctx: KoaLikeContext, next: () => Promise<unknown>) => {
        const result = await check(ctx.request ?? ctx, requirement);
        if (!result.ok) {
          ctx.status = result.status;
          ctx.set(result.headers);
          ctx.body = result.body;
          return;
        }
        ctx.state.auth = result.token;
        await next();
      };
    },
    /** Express-style `(req, res, next)` middleware (also plain `node:http`): the token on `req.auth`. */
    express(requirement: Requirement = {}) {
      validate(requirement);
      return (req: RequestLike & { auth?: VerifiedToken }, res: NodeLikeResponse, next: (err?: unknown) => void) => {
        check(req, requirement).then((result) => {
          if (!result.ok) {
            res.statusCode = result.status;
            for (const [name, value] of Object.entries(result.headers)) res.setHeader(name, value);
            res.end(JSON.stringify(result.body));
            return;
          }
          req.auth = result.token;
          next();
        }, next);
      };
    },
  };
}

export type ResourceServer = ReturnType<typeof createResourceServer>;

/** The part of Koa's context the middleware uses (no import of Koa needed). */
export interface KoaLikeContext {
  request?: RequestLike;
  headers: RequestLike['headers'];
  status: number;
  body: unknown;
  set(headers: Record<string, string>): void;
  state: Record<string, unknown>;
}

/** The part of Node's `ServerResponse` (and Express's) the middleware uses. */
export interface NodeLikeResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}
