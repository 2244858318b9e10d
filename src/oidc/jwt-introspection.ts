import { createLocalJWKSet, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { Context, Middleware, Next } from 'koa';
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { isStoreUnavailable, RETRY_AFTER_SECONDS, StoreUnavailable } from './errors.js';
import { SIGNING_ALGORITHMS } from './signing-keys.js';

/**
 * Introspection of stepup's own JWT access tokens (RFC 7662, issue #14).
 *
 * oidc-provider 9 does not store JWT access tokens and answers `unsupported_token_type` for any
 * structured token at the introspection endpoint (lib/shared/reject_structured_tokens.js). That check
 * runs after client authentication, duplicate-parameter and presence checks, so when the provider
 * reports exactly that error the caller has been authenticated by oidc-provider itself, with its
 * own methods and rules. This middleware, mounted in front of the provider, then answers in its
 * place, the way oidc-provider answers for an opaque token:
 *
 * - the JWT must verify with stepup's keys, be an `at+jwt` (RFC 9068 §2.1), come from this issuer and
 *   not be expired;
 * - a token from an authorization (it carries `grant_id`) is active only while that grant exists,
 *   unexpired, for the same client and account: revoking the grant (logout of every session, a
 *   removed factor, a disabled user, a reused refresh token) makes its JWT access tokens inactive at
 *   once, as it does for opaque tokens;
 * - a client credentials token (no grant) is active only while its client is still registered;
 * - the caller must be allowed to see it (the provider's introspection policy).
 *
 * Anything else (another issuer's JWT, a tampered or expired one, an ID token) is `active: false`.
 */
export const GRANT_ID_CLAIM = 'grant_id';

export interface JwtIntrospectionDeps {
  provider: Provider;
  issuer: string;
  jwks: { keys: object[] };
  /** the provider's introspection policy (features.introspection.allowedPolicy) */
  mayIntrospect: (caller: KoaContextWithOIDC['oidc']['client'], tokenClientId: string) => boolean;
}

/** Public parts only: the provider's JWKS holds the private keys. */
export const publicJwk = (k: JWK): JWK => {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = k;
  return pub;
};

/** What introspection says about a JWT access token, or undefined when it is not active. */
export async function introspectJwtAccessToken(
  deps: Pick<JwtIntrospectionDeps, 'provider' | 'issuer'> & { keySet: ReturnType<typeof createLocalJWKSet> },
  token: string,
): Promise<Record<string, unknown> | undefined> {
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, deps.keySet, { issuer: deps.issuer, typ: 'at+jwt', algorithms: [...SIGNING_ALGORITHMS], requiredClaims: ['exp', 'iat', 'jti'] }));
  } catch {
    return undefined;
  }
  const clientId = claims.client_id;
  if (typeof clientId !== 'string' || typeof claims.sub !== 'string') return undefined;
  const grantId = claims[GRANT_ID_CLAIM];
  if (grantId !== undefined) {
    if (typeof grantId !== 'string') return undefined;
    const grant = await deps.provider.Grant.find(grantId, { ignoreExpiration: true });
    if (!grant || grant.isExpired || grant.clientId !== clientId || grant.accountId !== claims.sub) return undefined;
  } else if (claims.sub !== clientId) {
    // a user's token always names its grant; one that does not is not one stepup issued
    return undefined;
  }
  // a deleted client's tokens are no longer active (its grants are not necessarily gone)
  if (!(await deps.provider.Client.find(clientId))) return undefined;
  const { [GRANT_ID_CLAIM]: _grant, ...visible } = claims;
  return { ...visible, active: true, token_type: 'Bearer' };
}

export function jwtAccessTokenIntrospection(deps: JwtIntrospectionDeps): Middleware {
  const keySet = createLocalJWKSet({ keys: (deps.jwks.keys as JWK[]).map(publicJwk) });
  // requests for which oidc-provider, after authenticating the client, refused a structured token
  const refusedStructured = new WeakSet<object>();
  deps.provider.on('introspection.error', (ctx: Context, err: Error) => {
    // thrown only by reject_structured_tokens.js, which runs after clientAuth (test/jwt-introspection.int.test.ts
    // proves a caller with bad credentials never gets this far)
    if (err instanceof errors.UnsupportedTokenType && (ctx as unknown as KoaContextWithOIDC).oidc?.route === 'introspection') refusedStructured.add(ctx);
  });

  return async (ctx: Context, next: Next) => {
    await next();
    if (!refusedStructured.has(ctx)) return;
    refusedStructured.delete(ctx);
    const { oidc } = ctx as unknown as KoaContextWithOIDC;
    const token = oidc.params?.token;
    let answer: Record<string, unknown> | undefined;
    try {
      answer = typeof token === 'string' ? await introspectJwtAccessToken({ ...deps, keySet }, token) : undefined;
    } catch (err) {
      if (!isStoreUnavailable(err)) throw err;
      // fail closed, as the provider's own endpoints do (issue #7): never a guess about the grant
      const out = new StoreUnavailable(err);
      ctx.status = 503;
      ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      ctx.type = 'application/json';
      ctx.body = { error: out.error, error_description: out.error_description };
      return;
    }
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.body = answer && deps.mayIntrospect(oidc.client, answer.client_id as string) ? answer : { active: false };
  };
}

/**
 * Whether an opaque access token (authorization code or client credentials) is active, by the rules
 * oidc-provider's introspection applies (lib/actions/introspection.js): found, unexpired, its grant
 * still there for the same client and account, and its client still registered.
 */
export async function isActiveOpaqueAccessToken(provider: Provider, token: string): Promise<boolean> {
  // oidc-provider's opaque tokens are 43 characters (256 bits): anything much longer is not one
  if (token.length > 100) return false;
  const found = (await provider.AccessToken.find(token)) ?? (await provider.ClientCredentials.find(token));
  if (!found?.isValid || !found.clientId) return false;
  const grantId = 'grantId' in found ? found.grantId : undefined;
  if (grantId) {
    const grant = await provider.Grant.find(grantId, { ignoreExpiration: true });
    if (!grant || grant.isExpired || grant.clientId !== found.clientId || grant.accountId !== ('accountId' in found ? found.accountId : undefined)) return false;
  }
  return Boolean(await provider.Client.find(found.clientId));
}
