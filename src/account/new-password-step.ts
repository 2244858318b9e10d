import Router from '@koa/router';
import type { Context } from 'koa';
import { koaBody } from 'koa-body';
import type Provider from 'oidc-provider';
import type { Audit } from '../audit/audit.js';
import { hashPassword, passwordPolicyError } from '../factors/password/password.js';
import { requireCsrf, type Csrf } from '../http/csrf.js';
import type { Views } from '../http/render.js';
import type { Account, AccountsRepo } from '../store/accounts.repo.js';
import type { AccountSessions } from '../store/redis/account-sessions.js';
import type { InteractionProgress, ProgressStore } from '../interactions/progress.js';
import { capitalize } from './password-reset.routes.js';
import type { Notifier } from '../notifications/notifier.js';

/**
 * "Must change the password at next sign-in" (issue #15 item 4), a step of its own beside the sign-in
 * pipeline (src/interactions/): once the password is verified, `interrupt` marks the interaction's
 * progress (server-side, dies with the interaction) and sends the person to
 * /interaction/:uid/new-password instead of the next step. Every other page of that interaction reads
 * the mark with the progress it reads anyway (`pendingNewPassword`), so it costs no extra round trip,
 * and leads back here until a new password is set; then the sign-in goes on where it was
 * (GET /interaction/:uid). Only the password sign-in is interrupted: a passkey sign-in proves no password.
 */
export interface NewPasswordStepDeps {
  provider: Provider;
  views: Views;
  csrf: Csrf;
  accounts: AccountsRepo;
  sessions: AccountSessions;
  audit: Audit;
  notify: Notifier;
  progress: ProgressStore;
}

const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '16kb' });
const UID = /^[A-Za-z0-9_-]{1,64}$/;

export interface NewPasswordStep {
  /**
   * Called by the password step once the password is verified, with the progress just written: true
   * when it answered (the redirect).
   */
  interrupt(ctx: Context, interaction: { uid: string; exp: number }, account: Pick<Account, 'id' | 'passwordChangeRequired'>, progress: InteractionProgress): Promise<boolean>;
  router: Router;
}

export function createNewPasswordStep(deps: NewPasswordStepDeps): NewPasswordStep {
  const router = new Router();
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
  const pending = async (uid: string) => {
    if (!UID.test(uid)) return undefined;
    const progress = await deps.progress.get(uid);
    return progress?.newPasswordRequired ? progress : undefined;
  };

  const show = async (ctx: Context, accountId: string, error?: string, status = 200) => {
    const account = await deps.accounts.findById(accountId);
    page(ctx, { uid: ctx.params.uid, email: account?.email, error }, status);
  };

  router.get('/interaction/:uid/new-password', async (ctx) => {
    const uid = String(ctx.params.uid);
    const marked = await pending(uid);
    if (!marked) return ctx.redirect(`/interaction/${uid}`);
    await show(ctx, marked.accountId);
  });

  router.post('/interaction/:uid/new-password', form, requireCsrf(deps.csrf, csrfFailed), async (ctx) => {
    const uid = String(ctx.params.uid);
    const marked = await pending(uid);
    if (!marked) return ctx.redirect(`/interaction/${uid}`);
    const accountId = marked.accountId;
    // the interaction must still be this browser's (its cookie): a uid alone is not enough
    const interaction = await deps.provider.interactionDetails(ctx.req, ctx.res).catch(() => undefined);
    if (interaction?.uid !== uid) return ctx.redirect(`/interaction/${uid}`);
    const body = ctx.request.body as Record<string, unknown>;
    const password = typeof body.password === 'string' ? body.password.slice(0, 10_000) : '';
    const problem = password !== body.confirm ? 'The two passwords are not the same.' : passwordPolicyError(password);
    if (problem) return show(ctx, accountId, capitalize(problem), 400);
    await deps.accounts.setPassword(accountId, await hashPassword(password), {}, deps.notify.within(ctx, { kind: 'password_changed', accountId, via: 'required_at_sign_in' }));
    await deps.progress.put(uid, { ...marked, newPasswordRequired: undefined }, interaction.exp - Math.floor(Date.now() / 1000));
    // a temporary password may be known to someone else: whoever signed in with it is signed out
    const revoked = await deps.sessions.revokeAccountSessions(accountId);
    await deps.audit.record({ type: 'password.change', outcome: 'success', reason: 'required_at_sign_in', subject: accountId, actor: accountId, details: { sessionsEnded: revoked.sessions } }, ctx);
    ctx.status = 303;
    ctx.redirect(`/interaction/${uid}`);
  });

  return {
    router,
    async interrupt(ctx, interaction, account, progress) {
      if (!account.passwordChangeRequired) return false;
      await deps.progress.put(interaction.uid, { ...progress, newPasswordRequired: true }, interaction.exp - Math.floor(Date.now() / 1000));
      ctx.status = 303;
      ctx.redirect(pagePath(interaction.uid));
      return true;
    },
  };
}
