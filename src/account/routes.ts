import Router from '@koa/router';
import type { Context } from 'koa';
import { koaBody } from 'koa-body';
import type Provider from 'oidc-provider';
import type { Audit } from '../audit/audit.js';
import { hashPassword, passwordPolicyError } from '../factors/password/password.js';
import { hashRecoveryCode, newRecoveryCodes } from '../factors/recovery-codes/recovery-codes.js';
import type { EnrollmentRegistry, EnrollmentSubject, FactorRegistry } from '../factors/factor.js';
import { totpEnrollmentAgain } from '../factors/totp/totp.factor.js';
import type { FactorDeps } from '../factors/deps.js';
import { AUTHENTICATOR_KINDS, type AuthenticatorKind } from '../factors/webauthn/webauthn.js';
import { readForm } from '../http/kit.js';
import { capitalize } from './password-reset.routes.js';
import { requireCsrf, type Csrf } from '../http/csrf.js';
import type { Views } from '../http/render.js';
import { levelRequiredForChange, maxAgeForFreshStepUp, verifiedFreshlyAt, type EnrolledFactor, type Policy } from '../stepup/index.js';
import type { AccountsRepo } from '../store/accounts.repo.js';
import type { FactorsRepo } from '../store/factors.repo.js';
import type { RecoveryCodesRepo } from '../store/recovery-codes.repo.js';
import type { SessionEventsStore, StoredFactorEvent } from '../store/redis/session-events.js';
import type { AccountSessions } from '../store/redis/account-sessions.js';
import { ACCOUNT_CLIENT_ID } from './internal-client.js';
import { builtInSignIn } from '../oidc/built-in-sign-in.js';
import type { DeviceCookie } from '../risk/device-cookie.js';
import type { KnownDevicesRepo } from '../store/known-devices.repo.js';
import { mountAccountDevices } from './devices.routes.js';
import type { Notifier } from '../notifications/notifier.js';

/**
 * `/account` (SPEC §5): a signed-in user's own factors: list, add a passkey or security key, rename,
 * remove. The page reads stepup's own SSO session; signing in and stepping up go through /auth as the
 * built-in client `stepup-account`, so the same engine decides. Every change needs a fresh (≤ 5 min)
 * verification at the level SPEC §4 names; a change is audited and notified to the user.
 */
export interface AccountDeps {
  provider: Provider;
  issuer: string;
  views: Views;
  csrf: Csrf;
  policy: Policy;
  accounts: AccountsRepo;
  factors: FactorsRepo;
  recoveryCodes: RecoveryCodesRepo;
  sessionEvents: SessionEventsStore;
  enrolledFactors: (accountId: string) => Promise<EnrolledFactor[]>;
  audit: Audit;
  /** the factors and their enrollment: the same code as the step-up (src/factors/) */
  registry: FactorRegistry;
  enrollments: EnrollmentRegistry;
  factorDeps: FactorDeps;
  /** SPEC §4: removing a factor ends the account's other sessions */
  sessions: AccountSessions;
  notify: Notifier;
  /** issue #16: "Your devices" (src/account/devices.routes.ts) */
  devices: KnownDevicesRepo;
  deviceCookie: DeviceCookie;
  now: () => number;
}

const STATE_COOKIE = 'stepup.account';
const MAX_LABEL_LENGTH = 64;
const SHOWN_KINDS = ['totp', 'webauthn'] as const;
/** Where a sign-in may return to: a fixed set of the account's own pages (no open redirect). */
const RETURN_PATHS = /^\/account(\/keys\/new\?kind=(passkey|security_key)|\/totp\/new|\/password|\/recovery-codes\/new|\/devices)?$/;
const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '32kb' });
const NOTICES: Record<string, string> = {
  added: 'Your new sign-in method is ready.',
  renamed: 'Renamed.',
  codes: 'Your old recovery codes no longer work.',
  removed: 'Removed.',
  password: 'Your password was changed. Your other sessions were signed out.',
};

const shortDate = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export function createAccountRouter(deps: AccountDeps): Router {
  const { provider, views, csrf } = deps;
  const router = new Router();
  const door = builtInSignIn({
    provider,
    issuer: deps.issuer,
    accounts: deps.accounts,
    sessionEvents: deps.sessionEvents,
    clientId: ACCOUNT_CLIENT_ID,
    base: '/account',
    cookieName: STATE_COOKIE,
    returnPaths: RETURN_PATHS,
  });
  // the level a new WebAuthn credential brings: the policy's phishing-resistant step
  const webauthnLevel = deps.policy.levels.find((l) => l.step === 'phishing_resistant')?.acr;
  // …and a new authenticator app's: the second-factor step
  const totpLevel = deps.policy.levels.find((l) => l.step === 'second_factor')?.acr;

  const page = (ctx: Context, view: string, context: Record<string, unknown>) => {
    ctx.type = 'html';
    ctx.body = views.render(view, { csrf: csrf.token(ctx), ...context });
  };
  const problem = (ctx: Context, status: number, title: string, message: string) => {
    ctx.status = status;
    page(ctx, 'error.njk', { title, message, requestId: ctx.state.requestId });
  };

  const csrfFailed = (ctx: Context) => problem(ctx, 403, 'Form expired', 'This form expired or was submitted from another site. Go back and try again.');

  router.use('/account', async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  const signedIn = (ctx: Context) => door.signedIn(ctx);

  /** Sends the browser through /auth (sign in, or a fresh step-up at `acr`) and back to `returnTo`. */
  const signIn = (ctx: Context, returnTo: string, acr?: string, events: StoredFactorEvent[] = []) => {
    if (!acr) return door.redirect(ctx, returnTo);
    door.redirect(ctx, returnTo, { acr, maxAge: maxAgeForFreshStepUp(events, deps.now()) });
  };

  /** SPEC §4: the level a change needs and whether the session verified it within 5 minutes. */
  const freshness = async (accountId: string, events: StoredFactorEvent[], adding: boolean | string) => {
    const enrolled = await deps.enrolledFactors(accountId);
    const newFactorLevel = adding === true ? webauthnLevel : adding === false ? undefined : adding;
    const level = levelRequiredForChange(deps.policy, enrolled, deps.now(), newFactorLevel);
    return { level, fresh: level ? verifiedFreshlyAt(deps.policy, level, events, deps.now()) : false };
  };

  router.get('/account', async (ctx) => {
    const user = await signedIn(ctx);
    if (!user) return signIn(ctx, '/account');
    const factors = await deps.factors.listForAccount(user.account.id);
    const recoveryCodes = await deps.recoveryCodes.remaining(user.account.id);
    const notice = typeof ctx.query.notice === 'string' ? NOTICES[ctx.query.notice] : undefined;
    page(ctx, 'account.njk', {
      title: 'Your account',
      account: user.account,
      factors: factors.filter((f) => f.status === 'active' && SHOWN_KINDS.includes(f.type)).map((f) => ({
        id: f.id,
        label: f.label,
        created: shortDate(f.createdAt),
        lastUsed: f.lastUsedAt ? shortDate(f.lastUsedAt) : undefined,
        // each factor says how it is named (src/factors/)
        ...deps.registry[f.type].describe?.(f),
      })),
      recoveryCodes,
      notice,
      clientId: ACCOUNT_CLIENT_ID,
    });
  });

  router.get('/account/callback', (ctx) =>
    door.handleCallback(
      ctx,
      { restart: 'Open your account page again.', unreachable: 'Your account has no sign-in method that can confirm this change. Ask your administrator for help.' },
      problem,
    ),
  );

  const kindOf = (value: unknown): AuthenticatorKind | undefined => AUTHENTICATOR_KINDS.find((k) => k === value);

  const subjectOf = (user: { account: { id: string; email: string; name: string | null }; sessionUid: string }): EnrollmentSubject => ({
    accountId: user.account.id,
    email: user.account.email,
    name: user.account.name,
    slot: user.sessionUid,
    clientId: ACCOUNT_CLIENT_ID,
    via: 'account_page',
  });

  router.get('/account/keys/new', async (ctx) => {
    const kind = kindOf(ctx.query.kind);
    if (!kind) return problem(ctx, 400, 'Unknown request', 'Choose a passkey or a security key from your account page.');
    const returnTo = `/account/keys/new?kind=${kind}`;
    const user = await signedIn(ctx);
    if (!user) return signIn(ctx, returnTo);
    const { level, fresh } = await freshness(user.account.id, user.events, true);
    if (!fresh) return signIn(ctx, returnTo, level?.acr, user.events);
    const shown = await deps.enrollments[kind].begin(ctx, subjectOf(user));
    page(ctx, 'account-key-new.njk', { title: kind === 'passkey' ? 'Add a passkey' : 'Add a security key', step: 'enroll_webauthn', ...shown });
  });

  router.post('/account/keys', form, requireCsrf(csrf, csrfFailed), async (ctx) => {
    const user = await signedIn(ctx);
    if (!user) return signIn(ctx, '/account');
    const kind = kindOf((ctx.request.body as Record<string, unknown>).kind) ?? 'passkey';
    // re-checked here, not only when the page was shown (SPEC §4)
    const { level, fresh } = await freshness(user.account.id, user.events, true);
    if (!fresh) return signIn(ctx, `/account/keys/new?kind=${kind}`, level?.acr, user.events);
    const enrollment = deps.enrollments[kind];
    const result = await enrollment.confirm(ctx, subjectOf(user), readForm(ctx, enrollment.form), deps.now());
    if (!result.ok) {
      ctx.status = result.status;
      return page(ctx, 'account-key-failed.njk', { title: 'Not added', message: result.message, kind });
    }
    return afterEnrollment(ctx, result.recoveryCodes);
  });

  router.get('/account/totp/new', async (ctx) => {
    const user = await signedIn(ctx);
    if (!user) return signIn(ctx, '/account/totp/new');
    const { level, fresh } = await freshness(user.account.id, user.events, totpLevel ?? false);
    if (!fresh) return signIn(ctx, '/account/totp/new', level?.acr, user.events);
    const shown = await deps.enrollments.totp.begin(ctx, subjectOf(user));
    page(ctx, 'account-totp-new.njk', { title: 'Add an authenticator app', step: 'enroll_totp', ...shown });
  });

  router.post('/account/totp', form, requireCsrf(csrf, csrfFailed), async (ctx) => {
    const user = await signedIn(ctx);
    if (!user) return signIn(ctx, '/account/totp/new');
    // re-checked here, not only when the page was shown (SPEC §4)
    const { level, fresh } = await freshness(user.account.id, user.events, totpLevel ?? false);
    if (!fresh) return signIn(ctx, '/account/totp/new', level?.acr, user.events);
    const input = readForm(ctx, deps.enrollments.totp.form);
    const result = await deps.enrollments.totp.confirm(ctx, subjectOf(user), input, deps.now());
    if (result.ok) return afterEnrollment(ctx, result.recoveryCodes);
    ctx.status = result.status;
    const again = input ? await totpEnrollmentAgain(deps.factorDeps, user.account.id, user.account.email, input.factorId) : undefined;
    if (!again) return problem(ctx, 400, 'Setup expired', 'This setup was replaced or finished. Start again from your account page.');
    page(ctx, 'account-totp-new.njk', { title: 'Add an authenticator app', step: 'enroll_totp', error: result.message, ...again });
  });

  /** After a new factor: its first recovery codes, shown once (SPEC §3), else back to the list. */
  const afterEnrollment = async (ctx: Context, issuedCodes: string[] | undefined) => {
    if (issuedCodes) {
      return page(ctx, 'recovery-codes.njk', { title: 'Save your recovery codes', codes: issuedCodes, continueUrl: '/account', continueFields: { notice: 'added' }, setupText: 'Your new sign-in method is ready.' });
    }
    ctx.status = 303;
    ctx.redirect('/account?notice=added');
  };

  // issue #15: "Make new recovery codes" confirms first (the old codes stop working)
  router.get('/account/recovery-codes/new', async (ctx) => {
    const user = await signedIn(ctx);
    if (!user) return signIn(ctx, '/account/recovery-codes/new');
    const { level, fresh } = await freshness(user.account.id, user.events, false);
    if (!fresh) return signIn(ctx, '/account/recovery-codes/new', level?.acr, user.events);
    page(ctx, 'account-codes-confirm.njk', { title: 'Make new recovery codes?', remaining: await deps.recoveryCodes.remaining(user.account.id) });
  });

  // new recovery codes replace every old one (for a user who used or lost some): a change like any other
  router.post('/account/recovery-codes', form, requireCsrf(csrf, csrfFailed), async (ctx) => {
    const user = await signedIn(ctx);
    if (!user) return signIn(ctx, '/account');
    const accountId = user.account.id;
    const { level, fresh } = await freshness(accountId, user.events, false);
    if (!fresh) return signIn(ctx, '/account', level?.acr, user.events);
    if ((await deps.factors.listForAccount(accountId)).length === 0) {
      return problem(ctx, 400, 'No second factor', 'Recovery codes stand in for a second factor: add an authenticator app, a passkey or a security key first.');
    }
    const codes = newRecoveryCodes();
    await deps.recoveryCodes.replace(accountId, codes.map(hashRecoveryCode), deps.notify.within(ctx, { kind: 'recovery_codes_regenerated', accountId, count: codes.length }));
    await deps.audit.record({ type: 'recovery_codes.issued', outcome: 'success', reason: 'regenerated', subject: accountId, actor: accountId, details: { count: codes.length } }, ctx);
    page(ctx, 'recovery-codes.njk', { title: 'Save your recovery codes', codes, continueUrl: '/account', continueFields: { notice: 'codes' }, setupText: 'Your old recovery codes no longer work.' });
  });


  // issue #15: change password, after a fresh step-up at the account's highest level (like any change);
  // the other sessions end (someone who knew the old password may hold one), the factors stay
  const passwordPage = (ctx: Context, email: string, error?: string, status = 200) => {
    ctx.status = status;
    page(ctx, 'account-password.njk', { title: 'Change your password', email, error });
  };
  router.get('/account/password', async (ctx) => {
    const user = await signedIn(ctx);
    if (!user) return signIn(ctx, '/account/password');
    const { level, fresh } = await freshness(user.account.id, user.events, false);
    if (!fresh) return signIn(ctx, '/account/password', level?.acr, user.events);
    passwordPage(ctx, user.account.email);
  });
  router.post('/account/password', form, requireCsrf(csrf, csrfFailed), async (ctx) => {
    const user = await signedIn(ctx);
    if (!user) return signIn(ctx, '/account/password');
    const { level, fresh } = await freshness(user.account.id, user.events, false);
    if (!fresh) return signIn(ctx, '/account/password', level?.acr, user.events);
    const body = ctx.request.body as Record<string, unknown>;
    const password = typeof body.password === 'string' ? body.password.slice(0, 10_000) : '';
    const problem = password !== body.confirm ? 'The two passwords are not the same.' : passwordPolicyError(password);
    if (problem) return passwordPage(ctx, user.account.email, capitalize(problem), 400);
    await deps.accounts.setPassword(user.account.id, await hashPassword(password), {}, deps.notify.within(ctx, { kind: 'password_changed', accountId: user.account.id, via: 'account_page' }));
    const revoked = await deps.sessions.revokeAccountSessions(user.account.id, { exceptSessionUid: user.sessionUid });
    await deps.audit.record({ type: 'password.change', outcome: 'success', subject: user.account.id, actor: user.account.id, details: { sessionsEnded: revoked.sessions, grantsRevoked: revoked.grants } }, ctx);
    ctx.status = 303;
    ctx.redirect('/account?notice=password');
  });

  const change = (action: 'rename' | 'remove') =>
    async (ctx: Context) => {
      const user = await signedIn(ctx);
      if (!user) return signIn(ctx, '/account');
      const { level, fresh } = await freshness(user.account.id, user.events, false);
      if (!fresh) return signIn(ctx, '/account', level?.acr, user.events);
      const factorId = String(ctx.params.id ?? '');
      // the factor must be this account's own: another user's id finds nothing
      const factor = /^[0-9a-f-]{36}$/i.test(factorId) ? (await deps.factors.listForAccount(user.account.id)).find((f) => f.id === factorId) : undefined;
      if (!factor) return problem(ctx, 404, 'Not found', 'That sign-in method does not exist on your account.');
      if (action === 'rename') {
        const raw = (ctx.request.body as Record<string, unknown>).label;
        const label = typeof raw === 'string' ? raw.trim().slice(0, MAX_LABEL_LENGTH) : '';
        if (!label) return problem(ctx, 400, 'Name needed', 'Give the sign-in method a name.');
        await deps.factors.rename(factor.id, user.account.id, label);
        await deps.audit.record({ type: 'factor.rename', outcome: 'success', subject: user.account.id, actor: user.account.id, details: { factorId: factor.id } }, ctx);
        ctx.status = 303;
        return ctx.redirect('/account?notice=renamed');
      }
      await deps.factors.remove(factor.id, user.account.id, deps.notify.within(ctx, { kind: 'factor_removed', accountId: user.account.id, factor: { id: factor.id, type: factor.type, label: factor.label }, by: 'self' }));
      // SPEC §4: whoever may hold a session made with the removed factor loses it; this one stays
      const revoked = await deps.sessions.revokeAccountSessions(user.account.id, { exceptSessionUid: user.sessionUid });
      await deps.audit.record(
        { type: 'factor.remove', outcome: 'success', subject: user.account.id, actor: user.account.id, details: { factorId: factor.id, type: factor.type, sessionsEnded: revoked.sessions, grantsRevoked: revoked.grants } },
        ctx,
      );
      ctx.status = 303;
      ctx.redirect('/account?notice=removed');
    };
  router.post('/account/factors/:id/rename', form, requireCsrf(csrf, csrfFailed), change('rename'));
  router.post('/account/factors/:id/remove', form, requireCsrf(csrf, csrfFailed), change('remove'));
  mountAccountDevices(router, { ...deps, signedIn, signIn: (ctx, returnTo) => signIn(ctx, returnTo), page, problem, post: [form, requireCsrf(csrf, csrfFailed)], clientId: ACCOUNT_CLIENT_ID });

  return router;
}
