import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import Koa from 'koa';
import * as oidc from 'openid-client';
import { createResourceServer, type Requirement, type ResourceServerOptions } from 'stepup/resource-server';

/**
 * The kit against a stand-in authorization server on loopback (discovery, JWKS, introspection), with
 * tokens signed here; its answers are read back with openid-client's RFC 6750 / RFC 9470 challenge
 * parser, the way an RP sees them. The clock is injected: no sleeps.
 */
const AUDIENCE = 'https://bank.example/api';
const LEVELS = ['aal1', 'aal2', 'phr', 'phrh'];
const T0 = 1_900_000_000;

let as: Server;
let issuer: string;
let signingKey: CryptoKey;
let publicJwk: JWK;
let otherKey: CryptoKey;
const introspection = { calls: 0, answers: new Map<string, Record<string, unknown>>(), down: false, lastAuth: '' };

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  otherKey = (await generateKeyPair('ES256')).privateKey;
  as = createServer((req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration') {
      return json(200, { issuer, jwks_uri: `${issuer}/jwks`, introspection_endpoint: `${issuer}/token/introspection`, acr_values_supported: LEVELS });
    }
    if (req.url === '/jwks') return json(200, { keys: [publicJwk] });
    if (req.url === '/token/introspection' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        introspection.calls++;
        introspection.lastAuth = req.headers.authorization ?? '';
        if (introspection.down) return json(500, { error: 'server_error' });
        const token = new URLSearchParams(body).get('token') ?? '';
        json(200, introspection.answers.get(token) ?? { active: false });
      });
      return;
    }
    json(404, {});
  });
  await new Promise<void>((resolve) => as.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(as.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => as.close(() => resolve()));
});

interface TokenSpec {
  acr?: string;
  authTime?: number;
  exp?: number;
  aud?: string;
  iss?: string;
  typ?: string;
  scope?: string;
  key?: CryptoKey;
}

async function jwt(spec: TokenSpec = {}, clock = T0): Promise<string> {
  const claims: Record<string, unknown> = { client_id: 'bank-web', scope: spec.scope ?? 'bank', jti: `j-${Math.random()}` };
  if (spec.acr !== undefined) claims.acr = spec.acr;
  claims.auth_time = spec.authTime ?? clock - 10;
  claims.amr = ['pwd'];
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: spec.typ ?? 'at+jwt' })
    .setIssuer(spec.iss ?? issuer)
    .setAudience(spec.aud ?? AUDIENCE)
    .setSubject('user-1')
    .setIssuedAt(clock - 10)
    .setExpirationTime(spec.exp ?? clock + 600)
    .sign(spec.key ?? signingKey);
}

function kit(extra: Partial<ResourceServerOptions> = {}, clock = { now: T0 }) {
  const logs: unknown[] = [];
  const logger = { info: (o: object, m: string) => logs.push([o, m]), warn: (o: object, m: string) => logs.push([o, m]) };
  const rs = createResourceServer({ issuer, audience: AUDIENCE, now: () => clock.now, logger, ...extra });
  return { rs, logs, clock };
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** Serves one route through the Express-style middleware, and calls it with openid-client as an RP does. */
async function throughRp(rs: ReturnType<typeof createResourceServer>, requirement: Requirement, token: string) {
  const mw = rs.express(requirement);
  const api = createServer((req, res) =>
    mw(req, res, (err?: unknown) => {
      res.statusCode = err ? 500 : 200;
      res.end(JSON.stringify({ sub: (req as { auth?: { sub?: string } }).auth?.sub }));
    }),
  );
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(api.address() as AddressInfo).port}/payments`);
  const config = new oidc.Configuration({ issuer }, 'bank-web');
  oidc.allowInsecureRequests(config);
  try {
    const res = await oidc.fetchProtectedResource(config, token, url, 'POST', '{}');
    return { status: res.status, challenge: undefined as undefined | Record<string, string> };
  } catch (err) {
    if (!(err instanceof oidc.WWWAuthenticateChallengeError)) throw err;
    expect(err.cause).toHaveLength(1);
    expect(err.cause[0]!.scheme).toBe('bearer');
    return { status: err.status, challenge: err.cause[0]!.parameters as Record<string, string> };
  } finally {
    api.closeAllConnections();
    await new Promise<void>((resolve) => api.close(() => resolve()));
  }
}

describe('RFC 9470 challenges, as an RP parses them', () => {
  it('acr only: a route needing aal2 refuses an aal1 token with acr_values and no max_age', async () => {
    const { rs } = kit();
    const out = await throughRp(rs, { acr: 'aal2' }, await jwt({ acr: 'aal1' }));
    expect(out.status).toBe(401);
    expect(out.challenge).toEqual({ error: 'insufficient_user_authentication', error_description: 'A different authentication level is required', acr_values: 'aal2' });
  });

  it('max_age only: a route needing a login within 300 s refuses a token whose auth_time is older, with max_age', async () => {
    const { rs } = kit();
    const out = await throughRp(rs, { maxAge: 300 }, await jwt({ acr: 'phrh', authTime: T0 - 301 }));
    expect(out.status).toBe(401);
    expect(out.challenge).toEqual({ error: 'insufficient_user_authentication', error_description: 'More recent authentication is required', max_age: '300' });
  });

  it('both: a route needing aal2 within 300 s sends acr_values and max_age', async () => {
    const { rs } = kit();
    const out = await throughRp(rs, { acr: 'aal2', maxAge: 300 }, await jwt({ acr: 'aal1' }));
    expect(out.challenge).toEqual({ error: 'insufficient_user_authentication', error_description: 'A different authentication level is required', acr_values: 'aal2', max_age: '300' });
  });

  it('enough acr but an old auth_time is refused with max_age; a fresh one passes', async () => {
    const { rs } = kit();
    const old = await throughRp(rs, { acr: 'aal2', maxAge: 300 }, await jwt({ acr: 'aal2', authTime: T0 - 301 }));
    expect(old.challenge).toMatchObject({ error: 'insufficient_user_authentication', max_age: '300', acr_values: 'aal2' });
    const fresh = await throughRp(rs, { acr: 'aal2', maxAge: 300 }, await jwt({ acr: 'aal2', authTime: T0 - 300 }));
    expect(fresh.status).toBe(200);
  });

  it('a token without auth_time cannot show its age: refused with max_age', async () => {
    const { rs } = kit();
    const token = await new SignJWT({ client_id: 'c', jti: 'j', acr: 'aal2' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(issuer)
      .setAudience(AUDIENCE)
      .setSubject('s')
      .setIssuedAt(T0)
      .setExpirationTime(T0 + 60)
      .sign(signingKey);
    const r = await rs.check(bearer(token), { maxAge: 300 });
    expect(r).toMatchObject({ ok: false, status: 401, body: { error: 'insufficient_user_authentication', max_age: 300 } });
  });
});

describe('the level order (a higher level satisfies a lower one)', () => {
  it.each([
    ['aal1', 'aal1', true],
    ['aal2', 'aal1', true],
    ['phr', 'aal2', true],
    ['phrh', 'phr', true],
    ['aal1', 'aal2', false],
    ['aal2', 'phr', false],
    ['unknown-acr', 'aal1', false],
    [undefined, 'aal1', false],
  ])('token acr %s for a route needing %s: ok=%s (order from discovery)', async (acr, required, ok) => {
    const { rs } = kit();
    const r = await rs.check(bearer(await jwt({ acr })), { acr: required });
    expect(r.ok).toBe(ok);
  });

  it('takes the order from configuration when given, and refuses a route level outside it at once', async () => {
    const { rs } = kit({ acrValues: ['low', 'high'] });
    expect((await rs.check(bearer(await jwt({ acr: 'high' })), { acr: 'low' })).ok).toBe(true);
    expect((await rs.check(bearer(await jwt({ acr: 'low' })), { acr: 'high' })).ok).toBe(false);
    expect(() => rs.koa({ acr: 'aal2' })).toThrow(/not one of acrValues/);
  });
});

describe('RFC 6750: missing and bad tokens', () => {
  it('no token at all: 401 with a bare Bearer challenge (no error code, RFC 6750 §3.1)', async () => {
    const { rs } = kit({ realm: 'bank' });
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }]) {
      const r = await rs.check({ headers });
      expect(r).toMatchObject({ ok: false, status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="bank"' } });
    }
  });

  it('a malformed Authorization header: 400 invalid_request', async () => {
    const { rs } = kit();
    const r = await rs.check({ headers: { authorization: 'Bearer two tokens' } });
    expect(r).toMatchObject({ ok: false, status: 400, body: { error: 'invalid_request' } });
  });

  const unsigned = () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ iss: issuer, aud: AUDIENCE, sub: 'user-1', client_id: 'c', jti: 'j', iat: T0, exp: T0 + 600, acr: 'phrh', auth_time: T0 })}.`;
  };
  it.each([
    ['expired', () => jwt({ exp: T0 - 60 }), 'The access token expired.'],
    ['wrong audience', () => jwt({ aud: 'https://other.example/api' }), 'The access token was not issued for this API.'],
    ['wrong issuer', () => jwt({ iss: 'https://evil.example' }), 'The access token was not issued by the expected authorization server.'],
    ['alg none', async () => unsigned(), 'The access token is not signed with an accepted algorithm.'],
    ['an ID token (typ JWT, not at+jwt)', () => jwt({ typ: 'JWT' }), 'The token is not a JWT access token (typ at+jwt, RFC 9068).'],
    ['signed by a key the issuer does not publish', () => jwt({ key: otherKey }), 'The access token signature does not verify.'],
    ['an opaque token when introspection is not configured', async () => 'opaque-token-value', 'This API accepts JWT access tokens only.'],
  ])('%s → 401 invalid_token', async (_name, make, description) => {
    const { rs } = kit();
    const out = await throughRp(rs, { acr: 'aal1' }, await make());
    expect(out.status).toBe(401);
    expect(out.challenge).toEqual({ error: 'invalid_token', error_description: description });
  });

  it('a valid token without the route scope: 403 insufficient_scope naming it', async () => {
    const { rs } = kit();
    const out = await throughRp(rs, { scope: 'payments' }, await jwt({ acr: 'aal2', scope: 'bank' }));
    expect(out.status).toBe(403);
    expect(out.challenge).toMatchObject({ error: 'insufficient_scope', scope: 'payments' });
  });

  it('the authorization server unreachable: 503 with Retry-After, never a pass', async () => {
    const { rs } = kit({ issuer: 'http://127.0.0.1:9' });
    const r = await rs.check(bearer(await jwt({ acr: 'aal2' })), { acr: 'aal1' });
    expect(r).toMatchObject({ ok: false, status: 503, headers: { 'Retry-After': '5' }, body: { error: 'temporarily_unavailable' } });
  });
});

describe('opaque tokens (RFC 7662 introspection)', () => {
  const secret = 'introspection-secret-value-0123456789';
  const active = (over: Record<string, unknown> = {}) => ({ active: true, token_type: 'Bearer', iss: issuer, client_id: 'bank-api', sub: 'user-2', scope: 'bank', acr: 'aal2', amr: ['pwd', 'otp'], auth_time: T0 - 5, exp: T0 + 600, ...over });

  it('is introspected once and the answer reused for a bounded time (injected clock)', async () => {
    const clock = { now: T0 };
    const { rs } = kit({ introspection: { clientId: 'bank-api', clientSecret: secret, cacheSeconds: 30 } }, clock);
    introspection.answers.set('opaque-1', active());
    const before = introspection.calls;
    const first = await rs.check(bearer('opaque-1'), { acr: 'aal2' });
    expect(first).toMatchObject({ ok: true, token: { format: 'opaque', sub: 'user-2', acr: 'aal2', amr: ['pwd', 'otp'] } });
    expect(introspection.lastAuth).toBe(`Basic ${Buffer.from(`bank-api:${secret}`).toString('base64')}`);
    clock.now = T0 + 29;
    expect((await rs.check(bearer('opaque-1'), { acr: 'aal2' })).ok).toBe(true);
    expect(introspection.calls - before).toBe(1);
    // past the cache window the authorization server is asked again: a revocation shows within 30 s
    introspection.answers.set('opaque-1', { active: false });
    clock.now = T0 + 31;
    expect(await rs.check(bearer('opaque-1'), { acr: 'aal2' })).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token' } });
    expect(introspection.calls - before).toBe(2);
  });

  it('a cached answer never outlives the token: asked again after its exp', async () => {
    const clock = { now: T0 };
    const { rs } = kit({ introspection: { clientId: 'bank-api', clientSecret: secret, cacheSeconds: 300 } }, clock);
    introspection.answers.set('opaque-2', active({ exp: T0 + 10 }));
    const before = introspection.calls;
    expect((await rs.check(bearer('opaque-2'))).ok).toBe(true);
    clock.now = T0 + 20;
    expect(await rs.check(bearer('opaque-2'))).toMatchObject({ ok: false, body: { error: 'invalid_token', error_description: 'The access token expired.' } });
    expect(introspection.calls - before).toBe(2);
  });

  it('the cache is bounded in entries: the oldest answer is dropped first', async () => {
    const { rs } = kit({ introspection: { clientId: 'bank-api', clientSecret: secret, maxCacheEntries: 2 } });
    for (const t of ['o-a', 'o-b', 'o-c']) introspection.answers.set(t, active());
    const before = introspection.calls;
    for (const t of ['o-a', 'o-b', 'o-c', 'o-c', 'o-b', 'o-a']) await rs.check(bearer(t));
    // o-a was evicted by o-c, so it is asked for again; o-b and o-c were served from the cache
    expect(introspection.calls - before).toBe(4);
  });

  it.each([
    ['inactive', { active: false }, 'The access token is not active (expired, revoked or unknown).'],
    ['a refresh token (no token_type, as oidc-provider answers)', active({ token_type: undefined }), 'The token is not a bearer access token.'],
    ['a refresh token (token_type refresh_token)', active({ token_type: 'refresh_token' }), 'The token is not a bearer access token.'],
    ['a DPoP-bound token', active({ token_type: 'DPoP', cnf: { jkt: 'x' } }), 'The token is not a bearer access token.'],
    ['another issuer', active({ iss: 'https://evil.example' }), 'The access token was not issued by the expected authorization server.'],
    ['another audience', active({ aud: 'https://other.example' }), 'The access token was not issued for this API.'],
    ['no audience and issued to another client', active({ client_id: 'someone-else' }), 'The access token was not issued for this API.'],
  ])('%s → invalid_token', async (_name, answer, description) => {
    const { rs } = kit({ introspection: { clientId: 'bank-api', clientSecret: secret } });
    const token = `opaque-${Math.random().toString(36).slice(2)}`;
    introspection.answers.set(token, answer);
    expect(await rs.check(bearer(token))).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token', error_description: description } });
  });

  it('an introspection endpoint that fails: 503, and nothing cached', async () => {
    const { rs } = kit({ introspection: { clientId: 'bank-api', clientSecret: secret } });
    introspection.answers.set('opaque-3', active());
    introspection.down = true;
    try {
      expect(await rs.check(bearer('opaque-3'))).toMatchObject({ ok: false, status: 503 });
    } finally {
      introspection.down = false;
    }
    expect((await rs.check(bearer('opaque-3'))).ok).toBe(true);
  });

  it('logs the reason of each refusal but never a token or the client secret', async () => {
    const { rs, logs } = kit({ introspection: { clientId: 'bank-api', clientSecret: secret } });
    const tokens = [await jwt({ acr: 'aal1' }), await jwt({ acr: 'aal2', exp: T0 - 60 }), 'opaque-unknown-token-value'];
    for (const t of tokens) await rs.check(bearer(t), { acr: 'aal2' });
    const text = JSON.stringify(logs);
    expect(logs.length).toBe(3);
    expect(text).toContain('acr_too_low');
    expect(text).toContain('expired');
    for (const t of [...tokens, ...tokens.map((t) => t.split('.')[1] ?? t), secret]) expect(text).not.toContain(t);
  });
});

describe('the Koa middleware', () => {
  it('answers the refusal itself, and hands the token to the route on success', async () => {
    const { rs } = kit();
    const app = new Koa();
    app.use(rs.koa({ acr: 'aal2', maxAge: 300 }));
    app.use((ctx) => {
      ctx.body = { sub: (ctx.state.auth as { sub: string }).sub };
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const low = await fetch(url, { headers: { authorization: `Bearer ${await jwt({ acr: 'aal1' })}` } });
      expect(low.status).toBe(401);
      expect(low.headers.get('www-authenticate')).toBe('Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="aal2", max_age=300');
      expect(low.headers.get('cache-control')).toBe('no-store');
      expect(await low.json()).toEqual({ error: 'insufficient_user_authentication', error_description: 'A different authentication level is required', acr_values: 'aal2', max_age: 300 });
      const ok = await fetch(url, { headers: { authorization: `Bearer ${await jwt({ acr: 'phr', authTime: T0 - 60 })}` } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ sub: 'user-1' });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
