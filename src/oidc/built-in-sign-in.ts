import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Account, AccountsRepo } from '../store/accounts.repo.js';
import type { SessionEventsStore, StoredFactorEvent } from '../store/redis/session-events.js';

/**
 * stepup's own pages (/account, /admin) sign people in through stepup's /auth as a built-in client,
 * like Keycloak's account and admin consoles, so every level and freshness rule comes from the one
 * engine. The pages then read the SSO session itself: the authorization code is destroyed unredeemed.
 * A signed cookie binds the round trip (state) and carries where to return, from a fixed set of paths.
 */
export interface BuiltInSignInOptions {
  provider: Provider;
  issuer: string;
  accounts: Pick<AccountsRepo, 'findById'>;
  sessionEvents: Pick<SessionEventsStore, 'get'>;
  clientId: string;
  /** the area's root, e.g. `/account`: the cookie's path, the default return and `${base}/callback` */
  base: string;
  cookieName: string;
  /** where a sign-in may return to (no open redirect) */
  returnPaths: RegExp;
}

export interface SignedInUser {
  account: Account;
  sessionUid: string;
  /** the session's factor verifications (SPEC §1) */
  events: StoredFactorEvent[];
}

export type CallbackOutcome = { ok: true; returnTo: string } | { ok: false; reason: 'state_mismatch' } | { ok: false; reason: 'error'; error: string };

export function builtInSignIn(opts: BuiltInSignInOptions) {
  const callbackPath = `${opts.base}/callback`;
  const cookie = { httpOnly: true, sameSite: 'lax' as const, path: opts.base, signed: true };
  const safeReturn = (path: string | undefined) => (path && opts.returnPaths.test(path) ? path : opts.base);

  return {
    callbackPath,

    /** The SSO session's account (enabled) and factor events, or undefined when nobody is signed in. */
    async signedIn(ctx: Context): Promise<SignedInUser | undefined> {
      const session = (await opts.provider.Session.get(ctx as never)) as { accountId?: string; uid?: string };
      if (!session.accountId || !session.uid) return undefined;
      const account = await opts.accounts.findById(session.accountId);
      if (!account || account.disabledAt) return undefined;
      return { account, sessionUid: session.uid, events: await opts.sessionEvents.get(session.uid, account.id) };
    },

    /** Redirects through /auth (a sign-in, or a step-up to `acr` with `maxAge`) and back to `returnTo`. */
    redirect(ctx: Context, returnTo: string, step: { acr?: string; maxAge?: number } = {}): void {
      const state = randomBytes(24).toString('base64url');
      ctx.cookies.set(opts.cookieName, `${state}|${safeReturn(returnTo)}`, { ...cookie, secure: ctx.secure, maxAge: 15 * 60 * 1000, overwrite: true });
      const url = new URL('/auth', opts.issuer);
      url.searchParams.set('client_id', opts.clientId);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('scope', 'openid');
      url.searchParams.set('redirect_uri', `${opts.issuer}${callbackPath}`);
      url.searchParams.set('state', state);
      // PKCE is required for every client (SPEC §5); this client never redeems its code (see callback)
      url.searchParams.set('code_challenge', createHash('sha256').update(randomBytes(32)).digest('base64url'));
      url.searchParams.set('code_challenge_method', 'S256');
      if (step.acr) url.searchParams.set('acr_values', step.acr);
      if (step.maxAge !== undefined) url.searchParams.set('max_age', String(step.maxAge));
      ctx.status = 302;
      ctx.redirect(url.pathname + url.search);
    },

    /** The callback: checks the state, destroys the code unredeemed, says where to go (or what went wrong). */
    async callback(ctx: Context): Promise<CallbackOutcome> {
      const [expected, returnTo] = (ctx.cookies.get(opts.cookieName, { signed: true }) ?? '').split('|');
      ctx.cookies.set(opts.cookieName, null, cookie);
      if (!expected || typeof ctx.query.state !== 'string' || ctx.query.state !== expected) return { ok: false, reason: 'state_mismatch' };
      // the pages use the SSO session, not tokens
      if (typeof ctx.query.code === 'string' && ctx.query.code.length < 200) {
        const code = await opts.provider.AuthorizationCode.find(ctx.query.code).catch(() => undefined);
        if (code?.clientId === opts.clientId) await code.destroy();
      }
      if (typeof ctx.query.error === 'string') return { ok: false, reason: 'error', error: ctx.query.error };
      return { ok: true, returnTo: safeReturn(returnTo) };
    },

    /** The callback route: back to the page, or a readable page saying why not (in the area's words). */
    async handleCallback(ctx: Context, words: { restart: string; unreachable: string }, problem: (ctx: Context, status: number, title: string, message: string) => unknown) {
      ctx.set('Cache-Control', 'no-store');
      const outcome = await this.callback(ctx);
      if (outcome.ok) return ctx.redirect(outcome.returnTo);
      if (outcome.reason === 'state_mismatch') {
        return problem(ctx, 400, 'Sign-in expired', `This sign-in was started elsewhere or took too long. ${words.restart}`);
      }
      return problem(ctx, 403, 'Not signed in', outcome.error === 'unmet_authentication_requirements' ? words.unreachable : 'You were not signed in.');
    },
  };
}

export type BuiltInSignIn = ReturnType<typeof builtInSignIn>;
