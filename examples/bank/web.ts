import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import { decodeJwt } from 'jose';
import Koa from 'koa';
import { koaBody } from 'koa-body';
import nunjucks from 'nunjucks';
import * as oidc from 'openid-client';
import { summarize } from './words.js';

/**
 * The Demo Bank's web app: signs in with stepup (openid-client, code flow with PKCE, a confidential
 * client), calls the bank API with the access token, and reacts to the API's RFC 9470 challenge by
 * sending the user back to stepup with the challenge's `acr_values` and `max_age`, then retries the
 * very same request (the payment form's data kept in the session meanwhile).
 */
export interface BankWebOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** where this app is reached, e.g. http://localhost:4000 */
  webUrl: string;
  /** the API's base URL, which is also its resource indicator (RFC 8707) */
  apiUrl: string;
  now?: () => number;
}

type Action = { kind: 'payment'; data: { to: string; amount: string; reference: string } } | { kind: 'payout'; data: { iban: string } };

interface Tokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  idClaims: Record<string, unknown>;
  /** epoch seconds */
  expiresAt: number;
}

interface Session {
  csrf: string;
  tokens?: Tokens;
  /** a sign-in or step-up under way: what to check on return, and the action to retry then */
  pending?: { state: string; nonce: string; verifier: string; maxAge?: number; action?: Action };
  /** an action that could not be done yet (the step-up did not complete), shown with "Try again" */
  held?: { action: Action; reason: string };
  flash?: string;
}

type Outcome =
  | { kind: 'done'; body: Record<string, unknown> }
  | { kind: 'step_up'; acrValues?: string; maxAge?: number; description?: string }
  | { kind: 'sign_in' }
  | { kind: 'refused'; status: number; detail: string }
  | { kind: 'unavailable' };

const SESSION_COOKIE = 'bank_session';
const MAX_SESSIONS = 10_000;
const SCOPE = 'openid email profile bank';
const here = dirname(fileURLToPath(import.meta.url));
const STYLE = readFileSync(join(here, 'public', 'style.css'), 'utf8');

export function createBankWeb(o: BankWebOptions): Koa {
  const now = o.now ?? (() => Math.floor(Date.now() / 1000));
  const views = new nunjucks.Environment(new nunjucks.FileSystemLoader(join(here, 'views')), { autoescape: true, throwOnUndefined: false });
  const redirectUri = `${o.webUrl}/callback`;
  const sessions = new Map<string, Session>();

  // discovery when first needed (stepup may still be starting), again after a failure
  let discovered: Promise<oidc.Configuration> | undefined;
  const config = () =>
    (discovered ??= oidc
      .discovery(new URL(o.issuer), o.clientId, o.clientSecret, oidc.ClientSecretBasic(o.clientSecret), {
        // the demo runs on http://localhost; a real deployment uses https and drops this
        execute: o.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
      })
      .catch((err) => {
        discovered = undefined;
        throw err;
      }));

  function sessionOf(ctx: Koa.Context): Session {
    const id = ctx.cookies.get(SESSION_COOKIE);
    const found = id ? sessions.get(id) : undefined;
    if (found) return found;
    const fresh: Session = { csrf: randomBytes(32).toString('base64url') };
    const newId = randomBytes(32).toString('base64url');
    if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value as string);
    sessions.set(newId, fresh);
    ctx.cookies.set(SESSION_COOKIE, newId, { httpOnly: true, sameSite: 'lax', path: '/', overwrite: true });
    return fresh;
  }

  /** A new session id at every sign-in and step-up, so an id planted before it is worth nothing after (session fixation). */
  function rotate(ctx: Koa.Context, session: Session) {
    const old = ctx.cookies.get(SESSION_COOKIE);
    if (old) sessions.delete(old);
    const id = randomBytes(32).toString('base64url');
    session.csrf = randomBytes(32).toString('base64url');
    sessions.set(id, session);
    ctx.cookies.set(SESSION_COOKIE, id, { httpOnly: true, sameSite: 'lax', path: '/', overwrite: true });
  }

  function render(ctx: Koa.Context, session: Session, view: string, vars: Record<string, unknown> = {}, status = 200) {
    const t = session.tokens;
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = views.render(view, {
      ...vars,
      csrf: session.csrf,
      signedIn: Boolean(t),
      email: t?.idClaims.email,
      idToken: summarize(t?.idClaims, now()),
      accessToken: summarize(t ? (decodeJwt(t.accessToken) as Record<string, unknown>) : undefined, now()),
      flash: vars.flash,
    });
  }

  function checkCsrf(ctx: Koa.Context, session: Session): boolean {
    const sent = Buffer.from(String((ctx.request.body as Record<string, unknown> | undefined)?._csrf ?? ''));
    const expected = Buffer.from(session.csrf);
    return sent.length === expected.length && timingSafeEqual(sent, expected);
  }

  function keep(tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers, previous?: Tokens): Tokens {
    return {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token ?? previous?.refreshToken,
      idToken: tokens.id_token ?? previous?.idToken,
      idClaims: (tokens.claims() as Record<string, unknown> | undefined) ?? previous?.idClaims ?? {},
      expiresAt: now() + (tokens.expiresIn() ?? 60),
    };
  }

  /** Sends the browser to stepup: a first sign-in, or a step-up with the API's `acr_values` / `max_age`. */
  async function toStepup(ctx: Koa.Context, session: Session, ask: { acrValues?: string; maxAge?: number }, action?: Action) {
    const cfg = await config();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    session.pending = { state, nonce, verifier, maxAge: ask.maxAge, action };
    const params: Record<string, string> = {
      redirect_uri: redirectUri,
      scope: SCOPE,
      // RFC 8707: the access token is a JWT for the bank API (its audience)
      resource: o.apiUrl,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    if (ask.acrValues) params.acr_values = ask.acrValues;
    if (ask.maxAge !== undefined) params.max_age = String(ask.maxAge);
    ctx.status = 303;
    ctx.redirect(oidc.buildAuthorizationUrl(cfg, params).href);
  }

  /** Calls the bank API with the access token (refreshed when about to expire) and reads its answer. */
  async function callApi(session: Session, method: string, path: string, body?: unknown, refreshed = false): Promise<Outcome> {
    const cfg = await config();
    const t = session.tokens;
    if (!t) return { kind: 'sign_in' };
    if (t.expiresAt - now() < 10 && t.refreshToken && !refreshed) {
      try {
        session.tokens = keep(await oidc.refreshTokenGrant(cfg, t.refreshToken, { resource: o.apiUrl }), t);
        return callApi(session, method, path, body, true);
      } catch {
        return { kind: 'sign_in' };
      }
    }
    let res: Response;
    try {
      const headers = new Headers({ accept: 'application/json' });
      if (body !== undefined) headers.set('content-type', 'application/json');
      res = await oidc.fetchProtectedResource(cfg, t.accessToken, new URL(path, o.apiUrl), method, body === undefined ? null : JSON.stringify(body), headers);
    } catch (err) {
      if (err instanceof oidc.WWWAuthenticateChallengeError) {
        const bearer = err.cause.find((c) => c.scheme === 'bearer');
        const p = bearer?.parameters ?? {};
        // RFC 9470 §4: go back to the authorization server with what the API asked for
        if (p.error === 'insufficient_user_authentication') {
          const maxAge = p.max_age !== undefined && /^\d+$/.test(p.max_age) ? Number(p.max_age) : undefined;
          return { kind: 'step_up', acrValues: p.acr_values, maxAge, description: p.error_description };
        }
        if (p.error === 'invalid_token' && t.refreshToken && !refreshed) {
          try {
            session.tokens = keep(await oidc.refreshTokenGrant(cfg, t.refreshToken, { resource: o.apiUrl }), t);
            return callApi(session, method, path, body, true);
          } catch {
            return { kind: 'sign_in' };
          }
        }
        if (p.error === 'insufficient_scope') return { kind: 'refused', status: 403, detail: 'This app was not given access to the bank API.' };
        return { kind: 'sign_in' };
      }
      return { kind: 'unavailable' };
    }
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.ok) return { kind: 'done', body: json };
    if (res.status === 503) return { kind: 'unavailable' };
    return { kind: 'refused', status: res.status, detail: typeof json.detail === 'string' ? json.detail : `the bank API answered ${res.status}` };
  }

  const perform = (session: Session, action: Action) =>
    action.kind === 'payment' ? callApi(session, 'POST', '/payments', action.data) : callApi(session, 'PUT', '/payout-account', action.data);

  const doneMessage = (action: Action, body: Record<string, unknown>) => {
    if (action.kind === 'payment') {
      const p = body.payment as { amount: string; to: string; reference: string };
      return `Payment sent: ${p.amount} EUR to ${p.to}${p.reference ? ` (reference: ${p.reference})` : ''}. New balance: ${String(body.balance)} EUR.`;
    }
    return `Payout account changed to ${String(body.payout_account)}.`;
  };
  const formOf = (action: Action) => (action.kind === 'payment' ? 'payment.njk' : 'payout.njk');

  /** What happens after an action was tried: done, a step-up, a sign-in, or the form again with its data. */
  async function answer(ctx: Koa.Context, session: Session, action: Action, outcome: Outcome, afterStepUp: boolean) {
    switch (outcome.kind) {
      case 'done':
        session.flash = doneMessage(action, outcome.body);
        session.held = undefined;
        ctx.status = 303;
        return ctx.redirect('/');
      case 'step_up':
        // after one step-up the API still asks for more: show it rather than loop
        if (afterStepUp) {
          session.held = { action, reason: outcome.description ?? 'The bank still needs a stronger sign-in.' };
          return render(ctx, session, 'held.njk', { held: session.held, action }, 401);
        }
        return toStepup(ctx, session, { acrValues: outcome.acrValues, maxAge: outcome.maxAge }, action);
      case 'sign_in':
        session.tokens = undefined;
        return afterStepUp ? render(ctx, session, 'held.njk', { held: { action, reason: 'Signing in did not work.' }, action }, 401) : toStepup(ctx, session, {}, action);
      case 'refused':
        return render(ctx, session, formOf(action), { form: action.data, error: outcome.detail }, outcome.status === 403 ? 403 : 400);
      case 'unavailable':
        return render(ctx, session, formOf(action), { form: action.data, error: 'The bank is unavailable right now; your entry is kept, try again in a moment.' }, 503);
    }
  }

  const router = new Router();
  const form = koaBody({ urlencoded: true, json: false, multipart: false, formLimit: '16kb' });

  router.get('/style.css', (ctx) => {
    ctx.type = 'text/css';
    ctx.body = STYLE;
  });

  router.get('/', async (ctx) => {
    const session = sessionOf(ctx);
    const flash = session.flash;
    session.flash = undefined;
    if (!session.tokens) return render(ctx, session, 'home.njk', { flash });
    const outcome = await callApi(session, 'GET', '/balance');
    if (outcome.kind === 'sign_in') {
      session.tokens = undefined;
      return render(ctx, session, 'home.njk', { flash: 'Your sign-in ended; please sign in again.' });
    }
    render(ctx, session, 'home.njk', { flash, account: outcome.kind === 'done' ? outcome.body : undefined, error: outcome.kind === 'done' ? undefined : 'The balance could not be loaded right now.' });
  });

  router.post('/login', form, async (ctx) => {
    const session = sessionOf(ctx);
    if (!checkCsrf(ctx, session)) return render(ctx, session, 'error.njk', { message: 'The form expired; please try again.' }, 403);
    await toStepup(ctx, session, {});
  });

  router.get('/callback', async (ctx) => {
    const session = sessionOf(ctx);
    const pending = session.pending;
    if (!pending) {
      ctx.status = 303;
      return ctx.redirect('/');
    }
    session.pending = undefined;
    if (typeof ctx.query.error === 'string') {
      // e.g. unmet_authentication_requirements: the user has no passkey for phr
      const reason =
        ctx.query.error === 'unmet_authentication_requirements'
          ? 'stepup could not reach the level the bank asked for with your sign-in methods (a passkey or security key for phr).'
          : `stepup answered ${ctx.query.error}.`;
      if (pending.action) {
        session.held = { action: pending.action, reason };
        return render(ctx, session, 'held.njk', { held: session.held, action: pending.action, issuer: o.issuer }, 401);
      }
      return render(ctx, session, 'error.njk', { message: `Signing in did not complete: ${reason}` }, 401);
    }
    try {
      const tokens = await oidc.authorizationCodeGrant(
        await config(),
        new URL(ctx.href),
        { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, maxAge: pending.maxAge },
        { resource: o.apiUrl },
      );
      session.tokens = keep(tokens, session.tokens);
      rotate(ctx, session);
    } catch {
      return render(ctx, session, 'error.njk', { message: 'Signing in did not complete; please try again.' }, 400);
    }
    // the retry: the same request the API refused, now with the stepped-up token
    if (pending.action) return answer(ctx, session, pending.action, await perform(session, pending.action), true);
    ctx.status = 303;
    ctx.redirect('/');
  });

  router.get('/payments/new', (ctx) => {
    const session = sessionOf(ctx);
    render(ctx, session, 'payment.njk', { form: { to: '', amount: '', reference: '' } });
  });
  router.post('/payments', form, async (ctx) => {
    const session = sessionOf(ctx);
    if (!checkCsrf(ctx, session)) return render(ctx, session, 'error.njk', { message: 'The form expired; please try again.' }, 403);
    const b = ctx.request.body as Record<string, unknown>;
    const action: Action = { kind: 'payment', data: { to: String(b.to ?? ''), amount: String(b.amount ?? ''), reference: String(b.reference ?? '') } };
    await answer(ctx, session, action, await perform(session, action), false);
  });

  router.get('/payout', (ctx) => {
    const session = sessionOf(ctx);
    render(ctx, session, 'payout.njk', { form: { iban: '' } });
  });
  router.post('/payout', form, async (ctx) => {
    const session = sessionOf(ctx);
    if (!checkCsrf(ctx, session)) return render(ctx, session, 'error.njk', { message: 'The form expired; please try again.' }, 403);
    const action: Action = { kind: 'payout', data: { iban: String((ctx.request.body as Record<string, unknown>).iban ?? '') } };
    await answer(ctx, session, action, await perform(session, action), false);
  });

  /** "Try again" on a held action: the same request, a step-up again if the API still asks for it. */
  router.post('/retry', form, async (ctx) => {
    const session = sessionOf(ctx);
    if (!checkCsrf(ctx, session) || !session.held) {
      ctx.status = 303;
      return ctx.redirect('/');
    }
    const { action } = session.held;
    if ((ctx.request.body as Record<string, unknown>).cancel !== undefined) {
      session.held = undefined;
      ctx.status = 303;
      return ctx.redirect('/');
    }
    await answer(ctx, session, action, await perform(session, action), false);
  });

  router.post('/logout', form, async (ctx) => {
    const session = sessionOf(ctx);
    if (!checkCsrf(ctx, session)) return render(ctx, session, 'error.njk', { message: 'The form expired; please try again.' }, 403);
    const idToken = session.tokens?.idToken;
    const id = ctx.cookies.get(SESSION_COOKIE);
    if (id) sessions.delete(id);
    ctx.cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'lax', path: '/', maxAge: 0 });
    ctx.status = 303;
    // RP-initiated logout: stepup ends its session too, then sends the browser back here
    ctx.redirect(oidc.buildEndSessionUrl(await config(), { post_logout_redirect_uri: `${o.webUrl}/`, ...(idToken ? { id_token_hint: idToken } : {}) }).href);
  });

  const app = new Koa();
  const issuerOrigin = new URL(o.issuer).origin;
  app.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    // forms post here, and their redirects go on to stepup
    ctx.set('Content-Security-Policy', `default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' ${issuerOrigin}`);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    try {
      await next();
    } catch (err) {
      const status = (err as { status?: number }).status;
      ctx.status = status && status >= 400 && status < 500 ? status : 503;
      ctx.type = 'html';
      ctx.body = views.render('error.njk', { message: ctx.status === 503 ? 'stepup or the bank API is not reachable right now; try again in a moment.' : 'That request could not be read.' });
    }
  });
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}
