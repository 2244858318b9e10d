import { createHash, randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { decodeJwt } from 'jose';
import type { Views } from '../http/render.js';
import type { Policy, StepKind } from '../stepup/index.js';
import { DEMO_CLIENT_ID, demoRedirectUri, demoStartUrl } from './demo.js';

/**
 * The demo client of the embedded default (issue #15 item 1), served by stepup itself so a newcomer
 * sees what the product is about: `/demo` starts a sign-in (PKCE S256, state, nonce kept in a signed
 * cookie), `/demo/callback` redeems the code server-side and shows the ID token's acr, amr and
 * auth_time in words, with links to step up to each higher level.
 */
const COOKIE = 'stepup.demo';
const COOKIE_OPTIONS = { httpOnly: true, sameSite: 'lax' as const, path: '/demo', signed: true };
const ROUND_TRIP_MS = 10 * 60 * 1000;

/** RFC 8176 authentication method reference values, in words. */
const AMR_WORDS: Record<string, string> = {
  pwd: 'a password',
  otp: 'a one-time code',
  hwk: 'a hardware-bound key',
  swk: 'a software-bound key',
  user: 'user presence',
  pin: 'a PIN',
  fpt: 'a fingerprint',
  face: 'face recognition',
  mfa: 'more than one factor',
  phr: 'a phishing-resistant method',
  pop: 'proof of possession of a key',
  kba: 'a recovery code',
};

const STEP_WORDS: Record<StepKind, string> = {
  primary: 'one factor (a password or a passkey)',
  second_factor: 'two factors',
  phishing_resistant: 'a phishing-resistant passkey or security key',
  device_bound: 'a key bound to one device',
};

export interface DemoRouterDeps {
  views: Views;
  issuer: string;
  policy: Policy;
  /** redeems the code at stepup's own token endpoint (a fetch to the issuer by default) */
  fetch?: typeof fetch;
  now: () => number;
}

interface RoundTrip {
  state: string;
  nonce: string;
  verifier: string;
}

export function createDemoRouter(deps: DemoRouterDeps): Router {
  const router = new Router();
  const acrValues = deps.policy.levels.map((l) => l.acr);
  const doFetch = deps.fetch ?? fetch;

  const page = (ctx: Context, context: Record<string, unknown>) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'html';
    ctx.body = deps.views.render('demo-callback.njk', { startUrl: demoStartUrl(deps.issuer), ...context });
  };

  router.get('/demo', (ctx) => {
    const requested = typeof ctx.query.acr_values === 'string' ? ctx.query.acr_values : undefined;
    const acr = requested && acrValues.includes(requested) ? requested : undefined;
    const trip: RoundTrip = { state: randomBytes(16).toString('base64url'), nonce: randomBytes(16).toString('base64url'), verifier: randomBytes(32).toString('base64url') };
    ctx.cookies.set(COOKIE, Buffer.from(JSON.stringify(trip)).toString('base64url'), { ...COOKIE_OPTIONS, secure: ctx.secure, maxAge: ROUND_TRIP_MS, overwrite: true });
    const url = new URL('/auth', deps.issuer);
    url.search = new URLSearchParams({
      client_id: DEMO_CLIENT_ID,
      response_type: 'code',
      scope: 'openid email profile',
      redirect_uri: demoRedirectUri(deps.issuer),
      code_challenge: createHash('sha256').update(trip.verifier).digest('base64url'),
      code_challenge_method: 'S256',
      state: trip.state,
      nonce: trip.nonce,
      ...(acr ? { acr_values: acr } : {}),
    }).toString();
    ctx.status = 302;
    ctx.redirect(url.pathname + url.search);
  });

  router.get('/demo/callback', async (ctx) => {
    const q = ctx.query;
    let trip: RoundTrip | undefined;
    try {
      trip = JSON.parse(Buffer.from(ctx.cookies.get(COOKIE, { signed: true }) ?? '', 'base64url').toString('utf8')) as RoundTrip;
    } catch {
      trip = undefined;
    }
    ctx.cookies.set(COOKIE, null, COOKIE_OPTIONS);
    if (typeof q.error === 'string') {
      return page(ctx, {
        title: 'Sign-in did not complete',
        error: q.error,
        errorDescription: typeof q.error_description === 'string' ? q.error_description : undefined,
      });
    }
    if (!trip || typeof q.state !== 'string' || q.state !== trip.state || typeof q.code !== 'string') {
      ctx.status = 400;
      return page(ctx, { title: 'Sign-in expired', error: 'state_mismatch', errorDescription: 'This sign-in was started in another browser or took longer than 10 minutes.' });
    }
    const res = await doFetch(new URL('/token', deps.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: q.code, redirect_uri: demoRedirectUri(deps.issuer), client_id: DEMO_CLIENT_ID, code_verifier: trip.verifier }),
    }).catch(() => undefined);
    const tokens = res ? ((await res.json().catch(() => ({}))) as { id_token?: string; error?: string; error_description?: string }) : { error: 'temporarily_unavailable' };
    if (!res?.ok || !tokens.id_token) {
      ctx.status = 502;
      return page(ctx, { title: 'Sign-in did not complete', error: tokens.error ?? 'token_error', errorDescription: tokens.error_description ?? 'The token endpoint did not answer.' });
    }
    // OIDC Core §3.1.3.7 (6): an ID token received directly from the token endpoint over the
    // server's own connection may be used without checking its signature; iss, aud and nonce are checked
    const claims = decodeJwt(tokens.id_token);
    if (claims.iss !== deps.issuer || claims.aud !== DEMO_CLIENT_ID || claims.nonce !== trip.nonce) {
      ctx.status = 502;
      return page(ctx, { title: 'Sign-in did not complete', error: 'invalid_id_token', errorDescription: 'The ID token was not issued for this sign-in.' });
    }
    const acr = typeof claims.acr === 'string' ? claims.acr : undefined;
    const level = deps.policy.levels.find((l) => l.acr === acr);
    const amr = Array.isArray(claims.amr) ? (claims.amr as unknown[]).filter((v): v is string => typeof v === 'string') : [];
    const authTime = typeof claims.auth_time === 'number' ? claims.auth_time : undefined;
    return page(ctx, {
      title: 'Signed in to the demo app',
      email: typeof claims.email === 'string' ? claims.email : claims.sub,
      acr,
      acrWords: level ? STEP_WORDS[level.step] : undefined,
      amr: amr.map((value) => ({ value, words: AMR_WORDS[value] ?? value })),
      authTime: authTime ? new Date(authTime * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : undefined,
      authAgo: authTime !== undefined ? Math.max(0, deps.now() - authTime) : undefined,
      levels: deps.policy.levels.slice(1).map((l) => ({ acr: l.acr, url: demoStartUrl(deps.issuer, l.acr), words: STEP_WORDS[l.step], held: level ? l.rank <= level.rank : false })),
      claimsJson: JSON.stringify(claims, null, 2),
      signOutUrl: `/session/end?${new URLSearchParams({ client_id: DEMO_CLIENT_ID, post_logout_redirect_uri: deps.issuer }).toString()}`,
    });
  });
  return router;
}
