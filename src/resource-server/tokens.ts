import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';

/**
 * Turning a bearer token into what the authorization server says about it: a JWT access token
 * (RFC 9068) verified locally against the issuer's JWKS, or an opaque token introspected (RFC 7662)
 * with a short, bounded cache. Neither the token nor a secret is ever logged or kept as a cache key.
 */

/** What a route's handler learns about the caller (RFC 9068 §2.2, RFC 9470 §6). */
export interface VerifiedToken {
  format: 'jwt' | 'opaque';
  sub?: string;
  clientId?: string;
  scopes: string[];
  acr?: string;
  amr: string[];
  /** epoch seconds of the user's last active authentication */
  authTime?: number;
  /** epoch seconds */
  exp?: number;
  claims: Record<string, unknown>;
}

/** The token is not acceptable: RFC 6750 `invalid_token`, with a reason for the log and the description. */
export class TokenRejected extends Error {
  constructor(
    readonly reason: string,
    readonly description: string,
  ) {
    super(description);
  }
}

/** The authorization server could not be asked (JWKS, discovery, introspection): fail closed with 503. */
export class AuthorizationServerUnavailable extends Error {}

export interface JwtVerifierOptions {
  issuer: string;
  audience: string;
  jwksUri: () => Promise<string>;
  algorithms: string[];
  clockToleranceSeconds: number;
  now: () => number;
}

// RFC 9068 §2.2: claims every JWT access token carries
const REQUIRED_JWT_CLAIMS = ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'];

// jose errors that say something about the token (anything else: the key set could not be fetched)
const TOKEN_FAULTS = new Set([
  'ERR_JWT_EXPIRED',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWT_INVALID',
  'ERR_JWS_INVALID',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
]);

function describeJoseError(err: joseErrors.JOSEError): TokenRejected {
  if (err instanceof joseErrors.JWTExpired) return new TokenRejected('expired', 'The access token expired.');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    const claim = err.claim;
    if (claim === 'aud') return new TokenRejected('wrong_audience', 'The access token was not issued for this API.');
    if (claim === 'iss') return new TokenRejected('wrong_issuer', 'The access token was not issued by the expected authorization server.');
    if (claim === 'typ') return new TokenRejected('not_an_access_token', 'The token is not a JWT access token (typ at+jwt, RFC 9068).');
    if (claim === 'nbf' || claim === 'iat') return new TokenRejected('not_yet_valid', 'The access token is not valid yet.');
    return new TokenRejected(`bad_claim_${claim}`, 'The access token lacks a required claim or has a bad one.');
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
    return new TokenRejected('algorithm_not_allowed', 'The access token is not signed with an accepted algorithm.');
  }
  return new TokenRejected('bad_signature', 'The access token signature does not verify.');
}

const stringArray = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const scopesOf = (v: unknown): string[] => (typeof v === 'string' ? v.split(' ').filter(Boolean) : []);

function toVerified(format: VerifiedToken['format'], claims: Record<string, unknown>): VerifiedToken {
  return {
    format,
    sub: typeof claims.sub === 'string' ? claims.sub : undefined,
    clientId: typeof claims.client_id === 'string' ? claims.client_id : undefined,
    scopes: scopesOf(claims.scope),
    acr: typeof claims.acr === 'string' ? claims.acr : undefined,
    amr: stringArray(claims.amr),
    authTime: typeof claims.auth_time === 'number' ? claims.auth_time : undefined,
    exp: typeof claims.exp === 'number' ? claims.exp : undefined,
    claims,
  };
}

/** Three base64url parts: a JWS in compact serialization (anything else is an opaque token). */
export const looksLikeJwt = (token: string) => /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token);

export function createJwtVerifier(o: JwtVerifierOptions) {
  let keySet: ReturnType<typeof createRemoteJWKSet> | undefined;
  const keys = async () => (keySet ??= createRemoteJWKSet(new URL(await o.jwksUri())));
  return async function verifyJwt(token: string): Promise<VerifiedToken> {
    const jwks = await keys();
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: o.issuer,
        audience: o.audience,
        // RFC 9068 §4: typ must be at+jwt (jose also accepts application/at+jwt), so an ID token is refused
        typ: 'at+jwt',
        // RFC 9068 §4 / RFC 8725 §3.1: an allow-list of asymmetric algorithms; `none` is never on it
        algorithms: o.algorithms,
        requiredClaims: REQUIRED_JWT_CLAIMS,
        clockTolerance: o.clockToleranceSeconds,
        currentDate: new Date(o.now() * 1000),
      });
      return toVerified('jwt', payload as JWTPayload & Record<string, unknown>);
    } catch (err) {
      if (err instanceof joseErrors.JOSEError && TOKEN_FAULTS.has(err.code)) throw describeJoseError(err);
      if (err instanceof TypeError && /Invalid Compact JWS|Compact JWS/.test(err.message)) throw new TokenRejected('malformed', 'The access token is malformed.');
      throw new AuthorizationServerUnavailable('the key set of the authorization server could not be fetched', { cause: err });
    }
  };
}

export interface IntrospectionOptions {
  issuer: string;
  audience: string;
  endpoint: () => Promise<string>;
  clientId: string;
  clientSecret: string;
  /** how long an answer is reused; bounded by the token's own expiry */
  cacheSeconds: number;
  maxCacheEntries: number;
  clockToleranceSeconds: number;
  now: () => number;
  fetch: typeof fetch;
  timeoutMs: number;
}

interface CacheEntry {
  until: number;
  answer: VerifiedToken | TokenRejected;
}

/** RFC 6749 §2.3.1: the client id and secret are form-urlencoded before they are joined for Basic. */
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id).replace(/%20/g, '+')}:${encodeURIComponent(secret).replace(/%20/g, '+')}`).toString('base64')}`;

export function createIntrospector(o: IntrospectionOptions) {
  // keyed by a digest: a memory dump or a debugger shows no usable token
  const cache = new Map<string, CacheEntry>();
  const remember = (key: string, entry: CacheEntry) => {
    cache.delete(key);
    // bounded: the oldest entry goes first, so a flood of random tokens cannot grow memory
    while (cache.size >= o.maxCacheEntries) cache.delete(cache.keys().next().value as string);
    cache.set(key, entry);
  };

  async function ask(token: string): Promise<Record<string, unknown>> {
    let res: Response;
    try {
      res = await o.fetch(await o.endpoint(), {
        method: 'POST',
        headers: { authorization: basic(o.clientId, o.clientSecret), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        signal: AbortSignal.timeout(o.timeoutMs),
      });
    } catch (err) {
      throw new AuthorizationServerUnavailable('the introspection endpoint could not be reached', { cause: err });
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new AuthorizationServerUnavailable(`the introspection endpoint answered ${res.status}`);
    }
    try {
      const json = (await res.json()) as unknown;
      if (json && typeof json === 'object' && !Array.isArray(json)) return json as Record<string, unknown>;
    } catch {
      /* below */
    }
    throw new AuthorizationServerUnavailable('the introspection endpoint answered something that is not a JSON object');
  }

  function judge(answer: Record<string, unknown>, now: number): VerifiedToken | TokenRejected {
    // RFC 7662 §2.2: only `active` is required; an inactive token says nothing more
    if (answer.active !== true) return new TokenRejected('inactive', 'The access token is not active (expired, revoked or unknown).');
    // a refresh token is introspectable too, but no credential for an API: oidc-provider gives access
    // tokens token_type Bearer (RFC 6749 §7.1) and refresh tokens none, so only Bearer is accepted; a
    // sender-constrained token (DPoP, mTLS: `cnf`, RFC 7800) is no bearer token either
    if (typeof answer.token_type !== 'string' || answer.token_type.toLowerCase() !== 'bearer' || answer.cnf !== undefined) {
      return new TokenRejected('not_a_bearer_access_token', 'The token is not a bearer access token.');
    }
    if (answer.iss !== undefined && answer.iss !== o.issuer) return new TokenRejected('wrong_issuer', 'The access token was not issued by the expected authorization server.');
    if (typeof answer.exp === 'number' && answer.exp + o.clockToleranceSeconds <= now) return new TokenRejected('expired', 'The access token expired.');
    const aud = typeof answer.aud === 'string' ? [answer.aud] : stringArray(answer.aud);
    if (answer.aud !== undefined) {
      if (!aud.includes(o.audience)) return new TokenRejected('wrong_audience', 'The access token was not issued for this API.');
    } else if (answer.client_id !== o.clientId) {
      // no audience (stepup issues opaque tokens without a resource): accepted only when it was issued to
      // this API's own client, else any token issued to any client would open this API
      return new TokenRejected('wrong_audience', 'The access token was not issued for this API.');
    }
    return toVerified('opaque', answer);
  }

  return async function introspect(token: string): Promise<{ token: VerifiedToken; cached: boolean }> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = o.now();
    const hit = cache.get(key);
    if (hit && hit.until > now) {
      if (hit.answer instanceof TokenRejected) throw hit.answer;
      // the cached answer cannot outlive the token
      if (hit.answer.exp !== undefined && hit.answer.exp + o.clockToleranceSeconds <= now) {
        cache.delete(key);
        throw new TokenRejected('expired', 'The access token expired.');
      }
      return { token: hit.answer, cached: true };
    }
    if (hit) cache.delete(key);
    const answer = judge(await ask(token), now);
    const exp = answer instanceof TokenRejected ? undefined : answer.exp;
    const until = Math.min(now + o.cacheSeconds, exp ?? Number.POSITIVE_INFINITY);
    if (until > now) remember(key, { until, answer });
    if (answer instanceof TokenRejected) throw answer;
    return { token: answer, cached: false };
  };
}
