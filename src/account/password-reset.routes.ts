import Router from '@koa/router';
import type { Context } from 'koa';
import { koaBody } from 'koa-body';
import type { RedisClient } from '../store/redis/client.js';
import type { Audit } from '../audit/audit.js';
import { hashPassword, passwordPolicyError } from '../factors/password/password.js';
import { requireCsrf, type Csrf } from '../http/csrf.js';
import type { Views } from '../http/render.js';
import type { Logger } from '../ops/logger.js';
import type { SendNotice } from '../notifications/notices.js';
import type { Notifier } from '../notifications/notifier.js';
import type { AccountsRepo } from '../store/accounts.repo.js';
import type { AccountSessions } from '../store/redis/account-sessions.js';
import { RESET_LINK_TTL_SECONDS, type PasswordResetsRepo } from '../store/password-resets.repo.js';
import { countInWindow } from '../store/redis/request-windows.js';

/**
 * Forgot password (issue #15 item 4). With email delivery (SMTP_URL) a person asks for a link at
 * /password/forgot; the answer is the same whether or not the email has an account (no account
 * enumeration) and comes before any work that depends on it. The link works once and for 15 minutes.
 * Without email delivery the page says an administrator resets passwords (admin UI, `stepup user
 * set-password`). A reset changes the password only: second factors stay, so a reset account still
 * needs its second factor for aal2; every session of the account ends.
 */
export interface PasswordResetDeps {
  issuer: string;
  views: Views;
  csrf: Csrf;
  accounts: AccountsRepo;
  passwordResets: PasswordResetsRepo;
  sessions: AccountSessions;
  audit: Audit;
  notify: Notifier;
  sendNotice: SendNotice;
  /** links are sent only when email delivery is configured (SMTP_URL) */
  resetByEmail: boolean;
  redis: RedisClient;
  redisKeyPrefix: string;
  logger: Logger;
  now: () => number;
}

/** Requests per 15 minutes: per client IP, and links per email address (beyond it nothing more is sent). */
export const FORGOT_PER_IP = 10;
export const LINKS_PER_EMAIL = 3;
const WINDOW_SECONDS = 15 * 60;
const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '16kb' });
const str = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : '');

export function createPasswordResetRouter(deps: PasswordResetDeps): Router {
  const { views, csrf } = deps;
  const router = new Router();
  const page = (ctx: Context, view: string, context: Record<string, unknown>, status = 200) => {
    ctx.status = status;
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'html';
    ctx.body = views.render(view, { csrf: csrf.token(ctx), resetByEmail: deps.resetByEmail, ...context });
  };
  const csrfFailed = (ctx: Context) => page(ctx, 'error.njk', { title: 'Form expired', message: 'This form expired or was submitted from another site. Go back and try again.', requestId: ctx.state.requestId }, 403);
  const linkExpired = (ctx: Context) =>
    page(ctx, 'password-reset.njk', { title: 'Link expired', expired: true }, 400);

  router.get('/password/forgot', (ctx) => page(ctx, 'password-forgot.njk', { title: 'Forgot your password?' }));

  router.post('/password/forgot', form, requireCsrf(csrf, csrfFailed), async (ctx) => {
    if (!deps.resetByEmail) return page(ctx, 'password-forgot.njk', { title: 'Forgot your password?' });
    const email = str((ctx.request.body as Record<string, unknown>).email, 254).trim().toLowerCase();
    if ((await countInWindow(deps.redis, `${deps.redisKeyPrefix}pwreset:ip:${ctx.ip}`, WINDOW_SECONDS)) > FORGOT_PER_IP) {
      ctx.set('Retry-After', String(WINDOW_SECONDS));
      return page(ctx, 'password-forgot.njk', { title: 'Forgot your password?', error: 'Too many requests from this network. Try again in 15 minutes.' }, 429);
    }
    // the answer does not wait for (or depend on) whether the account exists
    sendLink(ctx, email).catch((err: Error) => deps.logger.error({ err: { message: err.message } }, 'password reset link not sent'));
    page(ctx, 'password-forgot.njk', { title: 'Check your email', sent: true, email });
  });

  const sendLink = async (ctx: Context, email: string) => {
    if (!email) return;
    const perEmail = await countInWindow(deps.redis, `${deps.redisKeyPrefix}pwreset:email:${email}`, WINDOW_SECONDS);
    const account = await deps.accounts.findByEmail(email);
    if (!account || account.disabledAt || perEmail > LINKS_PER_EMAIL) return;
    const { token, expiresAt } = await deps.passwordResets.issue(account.id, deps.now());
    await deps.audit.record({ type: 'password.reset_requested', outcome: 'success', subject: account.id }, ctx);
    await deps.sendNotice({ kind: 'password_reset', accountId: account.id, email: account.email, link: `${deps.issuer}/password/reset?token=${token}`, expiresAt });
  };

  router.get('/password/reset', async (ctx) => {
    const token = str(ctx.query.token, 100);
    if (!(await deps.passwordResets.peek(token, deps.now()))) return linkExpired(ctx);
    page(ctx, 'password-reset.njk', { title: 'Choose a new password', token });
  });

  router.post('/password/reset', form, requireCsrf(csrf, csrfFailed), async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    const token = str(body.token, 100);
    const password = str(body.password, 10_000);
    const problem = password !== str(body.confirm, 10_000) ? 'The two passwords are not the same.' : passwordPolicyError(password);
    if (problem) {
      if (!(await deps.passwordResets.peek(token, deps.now()))) return linkExpired(ctx);
      return page(ctx, 'password-reset.njk', { title: 'Choose a new password', token, error: capitalize(problem) }, 400);
    }
    const hash = await hashPassword(password);
    // one use: the conditional UPDATE lets exactly one request through
    const accountId = await deps.passwordResets.consume(token, deps.now());
    if (!accountId) return linkExpired(ctx);
    await deps.accounts.setPassword(accountId, hash, {}, deps.notify.within(ctx, { kind: 'password_reset', accountId }));
    const revoked = await deps.sessions.revokeAccountSessions(accountId);
    await deps.audit.record({ type: 'password.reset', outcome: 'success', subject: accountId, actor: accountId, details: { sessionsEnded: revoked.sessions } }, ctx);
    page(ctx, 'password-reset.njk', { title: 'Password changed', done: true });
  });

  return router;
}

export const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1) + (s.endsWith('.') ? '' : '.');

export { RESET_LINK_TTL_SECONDS };
