import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { koaBody } from 'koa-body';
import type { RedisClient } from '../store/redis/client.js';
import type Provider from 'oidc-provider';
import type { Audit } from '../audit/audit.js';
import { hashPassword, passwordPolicyError } from '../factors/password/password.js';
import { requireCsrf, type Csrf } from '../http/csrf.js';
import type { Views } from '../http/render.js';
import type { Account, AccountsRepo } from '../store/accounts.repo.js';
import type { AccountSessions } from '../store/redis/account-sessions.js';
import { capitalize } from './password-reset.routes.js';

/**
 * "Must change the password at next sign-in" (issue #15 item 4), a step of its own beside the sign-in
 * pipeline (src/interactions/): once the password is verified, `interrupt` sends the person to
 * /interaction/:uid/new-password instead of the next step, and `guard` keeps every other page of that
 * interaction closed until a new password is set; then the sign-in goes on where it was
 * (GET /interaction/:uid). Only the password sign-in is interrupted: a passkey sign-in proves no password.
 */
export interface NewPasswordStepDeps {
  provider: Provider;
  views: Views;
  csrf: Csrf;
  accounts: AccountsRepo;
  sessions: AccountSessions;
  audit: Audit;
  notify: (accountId: string, message: string) => Promise<void>;
  redis: RedisClient;
  redisKeyPrefix: string;
  /** seconds the mark lives: the interaction's lifetime */
  interactionTtlSeconds: number;
}

const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '16kb' });
const UID = /^[A-Za-z0-9_-]{1,64}$/;

export interface NewPasswordStep {
  /** Called by the password step once the password is verified: true when it answered (the redirect). */
  interrupt(ctx: Context, interactionUid: string, account: Pick<Account, 'id' | 'passwordChangeRequired'>): Promise<boolean>;
  router: Router;
}

export function createNewPasswordStep(deps: NewPasswordStepDeps): NewPasswordStep {
  const router = new Router();
  const key = (uid: string) => `${deps.redisKeyPrefix}pwchange:${uid}`;
  const pagePath = (uid: string) => `/interaction/${uid}/new-password`;

  const page = (ctx: Context, context: Record<string, unknown>, status = 200) => {
    ctx.status = status;
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'html';
    ctx.body = deps.views.render('new-password.njk', { title: 'Choose a new password', csrf: deps.csrf.token(ctx), ...context });
  };
  const csrfFailed = (ctx: Context) => {
    ctx.status = 403;
    ctx.type = 'html';
    ctx.body = deps.views.render('error.njk', { title: 'Form expired', message: 'This form expired or was submitted from another site. Go back and try again.', requestId: ctx.state.requestId });
  };
  /** The account this interaction must set a new password for, if any. */
  const pending = async (uid: string) => (UID.test(uid) ? ((await deps.redis.get(key(uid))) ?? undefined) : undefined);

  // every other page of a marked interaction leads to the new-password page (cancelling stays possible)
  const guard = async (ctx: Context, next: Next) => {
    const uid = String(ctx.params.uid ?? '');
    if (ctx.path === pagePath(uid) || ctx.path === `/interaction/${uid}/abort`) return next();
    if (!(await pending(uid))) return next();
    ctx.status = 303;
    ctx.redirect(pagePath(uid));
  };
  router.all('/interaction/:uid', guard);
  router.all('/interaction/:uid/{*rest}', guard);

  const show = async (ctx: Context, accountId: string, error?: string, status = 200) => {
    const account = await deps.accounts.findById(accountId);
    page(ctx, { uid: ctx.params.uid, email: account?.email, error }, status);
  };

  router.get('/interaction/:uid/new-password', async (ctx) => {
    const uid = String(ctx.params.uid);
    const accountId = await pending(uid);
    if (!accountId) return ctx.redirect(`/interaction/${uid}`);
    await show(ctx, accountId);
  });

  router.post('/interaction/:uid/new-password', form, requireCsrf(deps.csrf, csrfFailed), async (ctx) => {
    const uid = String(ctx.params.uid);
    const accountId = await pending(uid);
    if (!accountId) return ctx.redirect(`/interaction/${uid}`);
    // the interaction must still be this browser's (its cookie): a uid alone is not enough
    const interaction = await deps.provider.interactionDetails(ctx.req, ctx.res).catch(() => undefined);
    if (interaction?.uid !== uid) return ctx.redirect(`/interaction/${uid}`);
    const body = ctx.request.body as Record<string, unknown>;
    const password = typeof body.password === 'string' ? body.password.slice(0, 10_000) : '';
    const problem = password !== body.confirm ? 'The two passwords are not the same.' : passwordPolicyError(password);
    if (problem) return show(ctx, accountId, capitalize(problem), 400);
    await deps.accounts.setPassword(accountId, await hashPassword(password));
    await deps.redis.del(key(uid));
    // a temporary password may be known to someone else: whoever signed in with it is signed out
    const revoked = await deps.sessions.revokeAccountSessions(accountId);
    await deps.audit.record({ type: 'password.change', outcome: 'success', reason: 'required_at_sign_in', subject: accountId, actor: accountId, details: { sessionsEnded: revoked.sessions } }, ctx);
    await deps.notify(accountId, 'Your password was changed.');
    ctx.status = 303;
    ctx.redirect(`/interaction/${uid}`);
  });

  return {
    router,
    async interrupt(ctx, interactionUid, account) {
      if (!account.passwordChangeRequired) return false;
      await deps.redis.set(key(interactionUid), account.id, 'EX', deps.interactionTtlSeconds);
      ctx.status = 303;
      ctx.redirect(pagePath(interactionUid));
      return true;
    },
  };
}
