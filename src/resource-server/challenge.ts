/**
 * The answers a protected resource gives when a request does not get through: RFC 6750 §3 (Bearer
 * `WWW-Authenticate` challenges) and RFC 9470 §3 (`insufficient_user_authentication` with `acr_values`
 * and `max_age`). Pure: no I/O.
 */

/** RFC 6750 §3.1 error codes, plus RFC 9470 §3's. */
export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'insufficient_user_authentication';

export interface Refusal {
  ok: false;
  /** 400, 401, 403, or 503 when the authorization server could not be reached (fail closed) */
  status: number;
  headers: Record<string, string>;
  body: { error?: BearerError | 'temporarily_unavailable'; error_description: string; acr_values?: string; max_age?: number; scope?: string };
}

export interface ChallengeParams {
  realm?: string;
  error?: BearerError;
  /** RFC 6750 §3: printable ASCII without `"` and `\` */
  description?: string;
  scope?: string;
  /** RFC 9470 §3: space-separated acr values, in order of preference */
  acrValues?: string;
  /** RFC 9470 §3: the allowable elapsed time in seconds since the last active authentication */
  maxAge?: number;
}

// RFC 6750 §3: error_description, scope and realm are quoted-strings limited to these characters
const QUOTABLE = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;

function quoted(name: string, value: string): string {
  if (!QUOTABLE.test(value)) throw new TypeError(`${name} contains characters a Bearer challenge cannot carry`);
  return `${name}="${value}"`;
}

/** The `WWW-Authenticate` header value, e.g. `Bearer error="insufficient_user_authentication", …, max_age=300`. */
export function bearerChallenge(p: ChallengeParams): string {
  const params: string[] = [];
  if (p.realm !== undefined) params.push(quoted('realm', p.realm));
  if (p.error) params.push(`error="${p.error}"`);
  if (p.description !== undefined) params.push(quoted('error_description', p.description));
  if (p.scope !== undefined) params.push(quoted('scope', p.scope));
  if (p.acrValues !== undefined) params.push(quoted('acr_values', p.acrValues));
  // RFC 9470 §3: max_age is a non-negative integer (a token, no quotes needed)
  if (p.maxAge !== undefined) params.push(`max_age=${Math.floor(p.maxAge)}`);
  return params.length ? `Bearer ${params.join(', ')}` : 'Bearer';
}

function refusal(status: number, challenge: ChallengeParams, body: Refusal['body']): Refusal {
  return {
    ok: false,
    status,
    headers: {
      'WWW-Authenticate': bearerChallenge(challenge),
      'Cache-Control': 'no-store',
      'Content-Type': 'application/json',
    },
    body,
  };
}

/** RFC 6750 §3.1: a request without any authentication information gets a challenge with no error code. */
export function missingToken(realm?: string): Refusal {
  return refusal(401, { realm }, { error_description: 'This API needs a bearer access token (RFC 6750).' });
}

/** RFC 6750 §3.1: a malformed request (400). */
export function invalidRequest(description: string, realm?: string): Refusal {
  return refusal(400, { realm, error: 'invalid_request', description }, { error: 'invalid_request', error_description: description });
}

/** RFC 6750 §3.1: expired, revoked, malformed or not meant for this API (401). */
export function invalidToken(description: string, realm?: string): Refusal {
  return refusal(401, { realm, error: 'invalid_token', description }, { error: 'invalid_token', error_description: description });
}

/** RFC 6750 §3.1: the token is good but does not grant the scope this route needs (403). */
export function insufficientScope(scope: string, realm?: string): Refusal {
  const description = 'The access token does not grant the scope this request needs.';
  return refusal(403, { realm, error: 'insufficient_scope', description, scope }, { error: 'insufficient_scope', error_description: description, scope });
}

/**
 * RFC 9470 §3: the user's authentication behind the token is not enough (level too low, or too long
 * ago). The client sends the user back to the authorization server with these `acr_values` and
 * `max_age` and retries with the new token.
 */
export function insufficientUserAuthentication(p: { acrValues?: string; maxAge?: number; description: string; realm?: string }): Refusal {
  return refusal(
    401,
    { realm: p.realm, error: 'insufficient_user_authentication', description: p.description, acrValues: p.acrValues, maxAge: p.maxAge },
    {
      error: 'insufficient_user_authentication',
      error_description: p.description,
      ...(p.acrValues !== undefined ? { acr_values: p.acrValues } : {}),
      ...(p.maxAge !== undefined ? { max_age: p.maxAge } : {}),
    },
  );
}

/** The authorization server (JWKS, discovery or introspection) could not be reached: refuse, never let through. */
export function unavailable(retryAfterSeconds: number): Refusal {
  return {
    ok: false,
    status: 503,
    headers: { 'Retry-After': String(retryAfterSeconds), 'Cache-Control': 'no-store', 'Content-Type': 'application/json' },
    body: { error: 'temporarily_unavailable', error_description: 'The access token cannot be checked right now; try again shortly.' },
  };
}
