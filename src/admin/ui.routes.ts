import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { koaBody } from 'koa-body';
import type Provider from 'oidc-provider';
import type { z } from 'zod';
import type { Audit } from '../audit/audit.js';
import { requireCsrf, type Csrf } from '../http/csrf.js';
import type { Views } from '../http/render.js';
import { heldLevels, verifiedFreshlyAt, type LevelDefinition, type Policy } from '../stepup/index.js';
import type { Account, AccountsRepo } from '../store/accounts.repo.js';
import type { ClientRecord } from '../store/clients.repo.js';
import type { Factor, FactorsRepo } from '../store/factors.repo.js';
import type { SessionEventsStore, StoredFactorEvent } from '../store/redis/session-events.js';
import { AdminError, auditJson, type Actor, type AdminService } from './admin-service.js';
import { auditCsv, auditFilterOf } from './api.routes.js';
import { describeUserAgent } from './user-agent.js';
import { describeEvent } from './audit-lines.js';
import { mountAdminDevices } from './devices.routes.js';
import type { KnownDevicesRepo } from '../store/known-devices.repo.js';
import { passwordPolicyError } from '../factors/password/password.js';
import { ADMIN_CLIENT_ID } from './internal-client.js';
import { builtInSignIn } from '../oidc/built-in-sign-in.js';
import { DEFAULT_ID_TOKEN_SIGNING_ALG, SIGNING_ALGORITHMS } from '../oidc/signing-keys.js';
import { auditQuery, clientCreateInput, clientUpdateInput, GRANT_TYPES, resetFactorsInput, userCreateInput } from './schemas.js';

/**
 * `/admin` (SPEC §5, issue #5): server-rendered, for accounts with the admin role only. Admins sign in
 * through stepup's own /auth as the built-in client `stepup-admin` (the pattern of src/account/): the
 * session must hold the second-factor level (aal2) or better, and a destructive action (remove a
 * factor, reset factors, disable a user, delete or re-key a client) needs a fresh step-up through the
 * same engine: `phr` when the admin has a WebAuthn credential, else `aal2`, within 5 minutes.
 * Destructive actions have a confirmation page (GET) that steps up first; the POST re-checks.
 * Every form carries a CSRF token; views autoescape every value; no inline script.
 */
export interface AdminUiDeps {
  provider: Provider;
  issuer: string;
  views: Views;
  csrf: Csrf;
  policy: Policy;
  accounts: AccountsRepo;
  factors: FactorsRepo;
  sessionEvents: SessionEventsStore;
  audit: Audit;
  admin: AdminService;
  /** issue #16: the users' known devices (devices.routes.ts) */
  devices: KnownDevicesRepo;
  now: () => number;
  /** pages defined in their own files (issue #19: decision traces), behind the same admin guard */
  morePages?: (router: Router, kit: AdminPageKit) => void;
  /** more for the user page's view (issue #19: the user's recent sign-ins) */
  userPageExtras?: (accountId: string) => Promise<Record<string, unknown>>;
  /** more for each event on the audit page, by event id (issue #17: its webhook delivery) */
  auditEventExtras?: (eventIds: string[]) => Promise<Map<string, Record<string, unknown>>>;
}

/** What a page defined in another file renders with: the admin layout's context and the message page. */
export interface AdminPageKit {
  page(ctx: Context, view: string, context: Record<string, unknown>, status?: number): void;
  problem(ctx: Context, status: number, title: string, message: string): void;
  /** a form POST's middleware: the body parsed, the CSRF token checked */
  post: Middleware[];
  /** who is acting (the signed-in admin) */
  actorOf(ctx: Context): Actor;
}

const STATE_COOKIE = 'stepup.admin';
/** Where a sign-in may return to: a path under /admin built of plain segments (no open redirect). */
const RETURN_PATH = /^\/admin(\/[A-Za-z0-9._~-]+)*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE_SIZE = 25;
/** the create-user form's field names as its labels say them, so a refusal reads "Initial password must be at least 8 characters" */
const USER_FORM_LABELS: Record<string, string> = { email: 'Email', name: 'Name', password: 'Initial password' };
const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '64kb' });

interface SignedInAdmin {
  account: Account;
  sessionUid: string;
  events: StoredFactorEvent[];
}

const fmt = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '');
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' && v !== '' ? [v] : []);
const lines = (v: unknown): string[] =>
  String(typeof v === 'string' ? v : '')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
const str = (v: unknown) => (typeof v === 'string' ? v : '');
/** A step-up decision's acr before (the highest level held) and after (the level it chose or granted). */
const acrChange = (details: Record<string, unknown>) => {
  const held = Array.isArray(details.held) ? details.held.map(String) : [];
  const target = typeof details.target === 'string' ? details.target : undefined;
  if (!held.length && !target) return '';
  return `${held[held.length - 1] ?? 'none'} → ${target ?? '(unmet)'}`;
};

export function createAdminUiRouter(deps: AdminUiDeps): Router {
  const { provider, views, csrf, policy, admin } = deps;
  const router = new Router();
  const door = builtInSignIn({
    provider,
    issuer: deps.issuer,
    accounts: deps.accounts,
    sessionEvents: deps.sessionEvents,
    clientId: ADMIN_CLIENT_ID,
    base: '/admin',
    cookieName: STATE_COOKIE,
    returnPaths: RETURN_PATH,
  });
  const sessionLevel = policy.levels.find((l) => l.step === 'second_factor') ?? policy.levels[0]!;
  const phishingResistant = policy.levels.find((l) => l.step === 'phishing_resistant');

  const page = (ctx: Context, view: string, context: Record<string, unknown>, status = 200) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = views.render(view, { csrf: csrf.token(ctx), me: ctx.state.admin?.account, logoutUrl: `/session/end?client_id=${ADMIN_CLIENT_ID}`, ...context });
  };
  const problem = (ctx: Context, status: number, title: string, message: string) =>
    page(ctx, 'admin/message.njk', { title, message, requestId: ctx.state.requestId }, status);

  /** The SSO session's account and factor events, or undefined. */
  const session = (ctx: Context): Promise<SignedInAdmin | undefined> => door.signedIn(ctx);

  /** Through /auth as `stepup-admin`, at `acr` (fresh when `fresh`: SPEC §2 rule 6, max_age=0), back to `returnTo`. */
  const signIn = (ctx: Context, returnTo: string, acr: string, fresh: boolean) => door.redirect(ctx, returnTo, { acr, ...(fresh ? { maxAge: 0 } : {}) });

  /** The level a destructive action needs from this admin (issue #5 default). */
  const destructiveLevel = async (admin: SignedInAdmin): Promise<LevelDefinition> => {
    const hasWebAuthn = (await deps.factors.listForAccount(admin.account.id)).some((f) => f.type === 'webauthn');
    return hasWebAuthn && phishingResistant ? phishingResistant : sessionLevel;
  };

  /**
   * A destructive action goes on only after a fresh step-up; otherwise the admin is sent through it.
   * Issue #15: first a page that names the action and its target ("remove “Laptop passkey” from
   * demo@example.com") and says why stepup asks again; its link (`?recheck=go`) starts the step-up.
   */
  const requireFresh = (returnTo: (ctx: Context) => string, describe: (ctx: Context) => Promise<string | undefined>) => async (ctx: Context, next: Next) => {
    const me = ctx.state.admin as SignedInAdmin;
    const level = await destructiveLevel(me);
    if (verifiedFreshlyAt(policy, level, me.events, deps.now())) return next();
    if (ctx.method === 'GET' && ctx.query.recheck !== 'go') {
      const action = await describe(ctx);
      if (!action) return next(); // no such target: the route answers 404
      return page(ctx, 'admin/recheck.njk', {
        title: 'Confirm it is you',
        action,
        method: level.step === 'phishing_resistant' ? 'your passkey or security key' : 'your password and your second factor',
        go: `${returnTo(ctx)}?recheck=go`,
        cancel: '/admin/users',
      });
    }
    if (ctx.method === 'GET') return signIn(ctx, returnTo(ctx), level.acr, true);
    // a POST cannot be replayed after the round trip: back to its confirmation page, which steps up
    ctx.status = 303;
    ctx.redirect(returnTo(ctx));
  };

  const actorOf = (ctx: Context): Actor => {
    const me = ctx.state.admin as SignedInAdmin;
    return { actor: me.account.id, clientId: ADMIN_CLIENT_ID, accountId: me.account.id, sessionUid: me.sessionUid };
  };
  const csrfFailed = (ctx: Context) => problem(ctx, 403, 'Form expired', 'This form expired or was submitted from another site. Go back and try again.');
  const post = [form, requireCsrf(csrf, csrfFailed)];

  router.get('/admin/callback', (ctx) =>
    door.handleCallback(
      ctx,
      { restart: 'Open the admin pages again.', unreachable: 'Your account has no sign-in method that reaches the level the admin pages need.' },
      problem,
    ),
  );

  router.get('/admin/signed-out', (ctx) => page(ctx, 'admin/message.njk', { title: 'Signed out', message: 'You are signed out of the admin pages.', informational: true, signInUrl: '/admin' }));

  /** Every other admin page: an admin whose session holds aal2 or better; everyone else 403. */
  router.use(async (ctx: Context, next: Next) => {
    if (!(ctx.path === '/admin' || ctx.path.startsWith('/admin/'))) return next();
    if (ctx.path === '/admin/callback' || ctx.path === '/admin/signed-out' || ctx.path === '/admin/api' || ctx.path.startsWith('/admin/api/')) return next();
    ctx.set('Cache-Control', 'no-store');
    const me = await session(ctx);
    const back = ctx.method === 'GET' && RETURN_PATH.test(ctx.path) ? ctx.path : '/admin';
    if (!me) return signIn(ctx, back, sessionLevel.acr, false);
    if (!me.account.isAdmin) {
      await deps.audit.record({ type: 'admin.access_denied', outcome: 'failure', reason: 'not_admin', actor: me.account.id, subject: me.account.id, clientId: ADMIN_CLIENT_ID, details: { path: ctx.path.slice(0, 200), method: ctx.method } }, ctx);
      // issue #15: not a dead end: sign out, or sign in as someone else (an admin)
      const out = `/session/end?${new URLSearchParams({ client_id: ADMIN_CLIENT_ID, post_logout_redirect_uri: `${deps.issuer}/admin/signed-out` })}`;
      return page(ctx, 'admin/message.njk', { title: 'Not allowed', message: `The admin pages are for administrators only, and ${me.account.email} is not one.`, requestId: ctx.state.requestId, signOutUrl: out, switchUrl: out }, 403);
    }
    if (!heldLevels(policy, me.events, deps.now()).includes(sessionLevel.acr)) return signIn(ctx, back, sessionLevel.acr, false);
    ctx.state.admin = me;
    try {
      await next();
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      const detail = err.errors?.map((e) => `${e.path}: ${e.message}`).join('; ');
      return problem(ctx, err.status, err.title, detail ?? err.title);
    }
  });

  router.get('/admin', (ctx) => ctx.redirect('/admin/users'));

  // ---- users ---------------------------------------------------------------------------------------

  router.get('/admin/users', async (ctx) => {
    const q = str(ctx.query.q).slice(0, 254);
    const pageNo = Math.max(1, Math.min(10_000, Number.parseInt(str(ctx.query.page), 10) || 1));
    const result = await admin.searchUsers(q, PAGE_SIZE, (pageNo - 1) * PAGE_SIZE);
    const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
    const link = (n: number) => `/admin/users?${new URLSearchParams({ ...(q ? { q } : {}), page: String(n) })}`;
    const ids = result.items.map((u) => u.id);
    const [lastSignIns, secondFactors] = await Promise.all([deps.audit.lastSignIns(ids), deps.factors.activeKindsFor(ids)]);
    page(ctx, 'admin/users.njk', {
      title: 'Users',
      q,
      users: result.items.map((u) => ({ ...u, created: fmt(u.createdAt), lastSignIn: fmt(lastSignIns.get(u.id)) || 'never', secondFactors: secondFactors.get(u.id) ?? [] })),
      total: result.total,
      pageNo,
      pages,
      prev: pageNo > 1 ? link(pageNo - 1) : undefined,
      next: pageNo < pages ? link(pageNo + 1) : undefined,
    });
  });

  router.get('/admin/users/new', (ctx) => page(ctx, 'admin/user-new.njk', { title: 'Create a user' }));

  router.post('/admin/users', ...post, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    const parsed = userCreateInput.safeParse({ email: str(body.email), name: str(body.name) || undefined, password: str(body.password), admin: body.admin === 'on' });
    if (!parsed.success) return page(ctx, 'admin/user-new.njk', { title: 'Create a user', errors: parsed.error.issues.map((i) => `${USER_FORM_LABELS[String(i.path[0])] ?? i.path.join('.')} ${i.message}`), values: { email: str(body.email), name: str(body.name) } }, 400);
    const account = await admin.createUser(actorOf(ctx), parsed.data, ctx);
    ctx.status = 303;
    ctx.redirect(`/admin/users/${account.id}?notice=created`);
  });

  const NOTICES: Record<string, string> = {
    created: 'User created.',
    removed: 'Factor removed; the user’s sessions and refresh tokens were revoked.',
    reset: 'Every factor was removed; the user’s sessions and refresh tokens were revoked.',
    disabled: 'User disabled; every session and refresh token was revoked.',
    enabled: 'User enabled.',
    revoked: 'Every session and refresh token of the user was revoked.',
    session_ended: 'The session was ended, with the refresh tokens it gave.',
    password_required: 'The user will choose a new password at the next sign-in.',
    password_not_required: 'The user no longer has to choose a new password.',
    password_set: 'Temporary password set: the user chooses a new one at the next sign-in. Every session was revoked.',
  };

  /** A user by the URL's id, or a 404 page. */
  const userParam = async (ctx: Context) => {
    const id = String(ctx.params.id ?? '');
    return UUID.test(id) ? deps.accounts.findById(id) : undefined;
  };
  /** One of that user's factors: another user's factor id finds nothing. */
  const factorParam = async (ctx: Context, account: Account): Promise<Factor | undefined> => {
    const fid = String(ctx.params.fid ?? '');
    return UUID.test(fid) ? (await deps.factors.listForAccount(account.id, { includePending: true })).find((f) => f.id === fid) : undefined;
  };
  const factorView = (f: Factor) => ({
    id: f.id,
    label: f.label,
    type: f.type === 'totp' ? 'Authenticator app (TOTP)' : f.webauthn?.userVerifying ? 'Passkey' : 'Security key',
    status: f.status,
    created: fmt(f.createdAt),
    lastUsed: fmt(f.lastUsedAt) || 'never',
    model: f.webauthn?.authenticatorModel ?? (f.webauthn ? 'unknown' : ''),
    backup: f.webauthn ? (f.webauthn.backupEligible ? (f.webauthn.backupState ? 'synced (backed up)' : 'can be synced') : 'device-bound') : '',
  });
  const eventView = (e: ReturnType<typeof auditJson>, names: Map<string, string>) => ({
    ...e,
    line: describeEvent(e, names),
    browser: e.user_agent ? describeUserAgent(e.user_agent) : '',
    at: fmt(e.at),
    actorName: e.actor ? (names.get(e.actor) ?? e.actor) : '',
    subjectName: e.subject ? (names.get(e.subject) ?? e.subject) : '',
    acr: acrChange(e.details),
    detailsJson: JSON.stringify(e.details),
  });
  /** Emails for the account ids on a page of events (who did it, to whom). */
  const namesFor = (events: ReturnType<typeof auditJson>[]) =>
    deps.accounts.emailsFor(events.flatMap((e) => [e.actor, e.subject]).filter((v): v is string => typeof v === 'string'));

  router.get('/admin/users/:id', async (ctx) => {
    const account = await userParam(ctx);
    if (!account) return problem(ctx, 404, 'Not found', 'There is no such user.');
    const { factors, recoveryCodes } = await admin.userDetail(account.id);
    const events = (await admin.listAudit({ subject: account.id, limit: 20 })).map(auditJson);
    const names = await namesFor(events);
    const sessions = await admin.listSessions(account.id);
    page(ctx, 'admin/user.njk', {
      title: account.name || account.email,
      user: { ...account, created: fmt(account.createdAt), disabled: fmt(account.disabledAt) },
      sessions: sessions.map((x) => ({
        uid: x.uid,
        device: x.device ? x.device.description : 'not seen since the sign-in',
        network: x.device?.ip ?? '',
        started: fmt(x.loginAt ? new Date(x.loginAt * 1000) : null),
        lastSeen: fmt(x.device ? new Date(x.device.lastSeen * 1000) : null),
        clients: x.clients.join(', '),
      })),
      factors: factors.map(factorView),
      recoveryCodes,
      events: events.map((e) => eventView(e, names)),
      notice: NOTICES[str(ctx.query.notice)],
      ...(deps.userPageExtras ? await deps.userPageExtras(account.id) : {}),
    });
  });

  const confirmRemove = (ctx: Context) => `/admin/users/${ctx.params.id}/factors/${ctx.params.fid}/remove`;
  const describeRemove = async (ctx: Context) => {
    const account = await userParam(ctx);
    const factor = account && (await factorParam(ctx, account));
    return account && factor ? `remove “${factor.label}” from ${account.email}` : undefined;
  };
  /** "<verb> <the user's email>", for the re-check page of a user action. */
  const describeUser = (verb: string) => async (ctx: Context) => {
    const account = await userParam(ctx);
    return account ? `${verb} ${account.email}` : undefined;
  };
  const describeClient = (verb: (id: string) => string) => async (ctx: Context) => {
    const c = await clientParam(ctx);
    return c ? verb(c.clientId) : undefined;
  };
  router.get('/admin/users/:id/factors/:fid/remove', requireFresh(confirmRemove, describeRemove), async (ctx) => {
    const account = await userParam(ctx);
    const factor = account && (await factorParam(ctx, account));
    if (!account || !factor) return problem(ctx, 404, 'Not found', 'That user has no such factor.');
    page(ctx, 'admin/confirm.njk', {
      title: 'Remove a factor',
      question: `Remove “${factor.label}” from ${account.email}?`,
      consequence: 'The user can no longer sign in with it, and every session and refresh token of the user is revoked.',
      action: confirmRemove(ctx),
      button: 'Remove factor',
      reason: 'optional',
      cancel: `/admin/users/${account.id}`,
    });
  });
  router.post('/admin/users/:id/factors/:fid/remove', ...post, requireFresh(confirmRemove, describeRemove), async (ctx) => {
    const account = await userParam(ctx);
    const factor = account && (await factorParam(ctx, account));
    if (!account || !factor) return problem(ctx, 404, 'Not found', 'That user has no such factor.');
    const reason = str((ctx.request.body as Record<string, unknown>).reason).trim().slice(0, 500);
    await admin.removeFactor(actorOf(ctx), account.id, factor.id, reason || undefined, ctx);
    ctx.status = 303;
    ctx.redirect(`/admin/users/${account.id}?notice=removed`);
  });

  const confirmReset = (ctx: Context) => `/admin/users/${ctx.params.id}/reset`;
  router.get('/admin/users/:id/reset', requireFresh(confirmReset, describeUser('remove every second factor and recovery code of')), async (ctx) => {
    const account = await userParam(ctx);
    if (!account) return problem(ctx, 404, 'Not found', 'There is no such user.');
    page(ctx, 'admin/confirm.njk', {
      title: 'Reset all factors',
      question: `Remove every second factor and recovery code of ${account.email}?`,
      consequence: 'The password stays. Every session and refresh token of the user is revoked. The reason goes into the audit trail.',
      action: confirmReset(ctx),
      button: 'Reset all factors',
      reason: 'required',
      cancel: `/admin/users/${account.id}`,
    });
  });
  router.post('/admin/users/:id/reset', ...post, requireFresh(confirmReset, describeUser('remove every second factor and recovery code of')), async (ctx) => {
    const account = await userParam(ctx);
    if (!account) return problem(ctx, 404, 'Not found', 'There is no such user.');
    const parsed = resetFactorsInput.safeParse({ reason: str((ctx.request.body as Record<string, unknown>).reason) });
    if (!parsed.success) return problem(ctx, 400, 'Reason needed', 'Say why the factors are reset: the reason goes into the audit trail.');
    await admin.resetFactors(actorOf(ctx), account.id, parsed.data.reason, ctx);
    ctx.status = 303;
    ctx.redirect(`/admin/users/${account.id}?notice=reset`);
  });

  const confirmDisable = (ctx: Context) => `/admin/users/${ctx.params.id}/disable`;
  router.get('/admin/users/:id/disable', requireFresh(confirmDisable, describeUser('disable')), async (ctx) => {
    const account = await userParam(ctx);
    if (!account) return problem(ctx, 404, 'Not found', 'There is no such user.');
    page(ctx, 'admin/confirm.njk', {
      title: 'Disable a user',
      question: `Disable ${account.email}?`,
      consequence: 'The user can no longer sign in; every session and refresh token is revoked.',
      action: confirmDisable(ctx),
      button: 'Disable user',
      reason: 'optional',
      cancel: `/admin/users/${account.id}`,
    });
  });
  router.post('/admin/users/:id/disable', ...post, requireFresh(confirmDisable, describeUser('disable')), async (ctx) => {
    const account = await userParam(ctx);
    if (!account) return problem(ctx, 404, 'Not found', 'There is no such user.');
    const reason = str((ctx.request.body as Record<string, unknown>).reason).trim().slice(0, 500);
    await admin.setDisabled(actorOf(ctx), account.id, true, reason || undefined, ctx);
    ctx.status = 303;
    ctx.redirect(`/admin/users/${account.id}?notice=disabled`);
  });

  router.post('/admin/users/:id/enable', ...post, async (ctx) => {
    const account = await userParam(ctx);
    if (!account) return problem(ctx, 404, 'Not found', 'There is no such user.');
    await admin.setDisabled(actorOf(ctx), account.id, false, undefined, ctx);
    ctx.status = 303;
    ctx.redirect(`/admin/users/${account.id}?notice=enabled`);
  });

  router.post('/admin/users/:id/sessions/:uid/end', ...post, async (ctx) => {
    const account = await userParam(ctx);
    if (!account) return problem(ctx, 404, 'Not found', 'There is no such user.');
    try {
      await admin.endSession(actorOf(ctx), account.id, String(ctx.params.uid).slice(0, 100), ctx);
    } catch (err) {
      if (err instanceof AdminError && err.status === 404) return problem(ctx, 404, 'Not found', 'That session has already ended.');
      throw err;
    }
    ctx.status = 303;
    ctx.redirect(`/admin/users/${account.id}?notice=session_ended`);
  });

  router.post('/admin/users/:id/password/require-change', ...post, async (ctx) => {
    const account = await userParam(ctx);
    if (!account) return problem(ctx, 404, 'Not found', 'There is no such user.');
    const required = (ctx.request.body as Record<string, unknown>).required !== 'false';
    await admin.requirePasswordChange(actorOf(ctx), account.id, required, ctx);
    ctx.status = 303;
    ctx.redirect(`/admin/users/${account.id}?notice=${required ? 'password_required' : 'password_not_required'}`);
  });

  // the reset without email: a temporary password (someone else knows it until it is changed), so a fresh step-up
  const confirmPassword = (ctx: Context) => `/admin/users/${ctx.params.id}/password`;
  const passwordForm = (ctx: Context, account: Account, errors?: string[]) =>
    page(ctx, 'admin/user-password.njk', { title: 'Set a temporary password', target: account, action: confirmPassword(ctx), errors }, errors ? 400 : 200);
  router.get('/admin/users/:id/password', requireFresh(confirmPassword, describeUser('set a temporary password for')), async (ctx) => {
    const account = await userParam(ctx);
    if (!account) return problem(ctx, 404, 'Not found', 'There is no such user.');
    passwordForm(ctx, account);
  });
  router.post('/admin/users/:id/password', ...post, requireFresh(confirmPassword, describeUser('set a temporary password for')), async (ctx) => {
    const account = await userParam(ctx);
    if (!account) return problem(ctx, 404, 'Not found', 'There is no such user.');
    const body = ctx.request.body as Record<string, unknown>;
    const password = str(body.password).slice(0, 10_000);
    const problemText = passwordPolicyError(password);
    if (problemText) return passwordForm(ctx, account, [`password: ${problemText}`]);
    await admin.setTemporaryPassword(actorOf(ctx), account.id, password, str(body.reason).trim().slice(0, 500) || undefined, ctx);
    ctx.status = 303;
    ctx.redirect(`/admin/users/${account.id}?notice=password_set`);
  });

  router.post('/admin/users/:id/sessions/revoke', ...post, async (ctx) => {
    const account = await userParam(ctx);
    if (!account) return problem(ctx, 404, 'Not found', 'There is no such user.');
    await admin.revokeSessions(actorOf(ctx), account.id, ctx);
    ctx.status = 303;
    ctx.redirect(`/admin/users/${account.id}?notice=revoked`);
  });

  mountAdminDevices(router, { devices: deps.devices, audit: deps.audit, userParam, page, problem, post, actor: (ctx) => actorOf(ctx).actor });

  // ---- clients -------------------------------------------------------------------------------------

  const acrValues = policy.levels.map((l) => l.acr);
  const clientView = (c: ClientRecord) => ({ ...c, type: c.clientSecret ? 'confidential' : 'public', clientSecret: undefined });
  const clientForm = (ctx: Context, title: string, action: string, values: Record<string, unknown>, extra: Record<string, unknown> = {}, status = 200) =>
    page(ctx, 'admin/client-form.njk', { title, action, values: { grant_types: [], default_acr_values: [], ...values }, grantTypes: GRANT_TYPES, acrValues, signingAlgs: SIGNING_ALGORITHMS, ...extra }, status);
  const settingsFrom = (body: Record<string, unknown>) => ({
    client_name: str(body.client_name) || undefined,
    redirect_uris: lines(body.redirect_uris),
    post_logout_redirect_uris: lines(body.post_logout_redirect_uris),
    grant_types: list(body.grant_types),
    scope: str(body.scope).trim() || undefined,
    default_acr_values: list(body.default_acr_values),
    minimum_acr: str(body.minimum_acr) || undefined,
    id_token_signed_response_alg: str(body.id_token_signed_response_alg) || undefined,
    userinfo_signed_response_alg: str(body.userinfo_signed_response_alg) || undefined,
  });
  const formValues = (s: ReturnType<typeof settingsFrom> | ClientRecord) =>
    'clientId' in s
      ? { client_name: s.clientName ?? '', redirect_uris: s.redirectUris.join('\n'), post_logout_redirect_uris: s.postLogoutRedirectUris.join('\n'), grant_types: s.grantTypes, scope: s.scope ?? '', default_acr_values: s.defaultAcrValues, minimum_acr: s.minimumAcr ?? '', id_token_signed_response_alg: s.idTokenSignedResponseAlg ?? DEFAULT_ID_TOKEN_SIGNING_ALG, userinfo_signed_response_alg: s.userinfoSignedResponseAlg ?? '' }
      : { ...s, redirect_uris: s.redirect_uris.join('\n'), post_logout_redirect_uris: s.post_logout_redirect_uris.join('\n') };
  const issues = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  const clientParam = async (ctx: Context) => {
    try {
      return await admin.getClient(String(ctx.params.cid ?? ''));
    } catch (err) {
      if (err instanceof AdminError && err.status === 404) return undefined;
      throw err;
    }
  };

  router.get('/admin/clients', async (ctx) => {
    page(ctx, 'admin/clients.njk', { title: 'Clients', clients: (await admin.listClients()).map(clientView) });
  });
  router.get('/admin/clients/new', (ctx) => clientForm(ctx, 'Register a client', '/admin/clients', { grant_types: ['authorization_code', 'refresh_token'], confidential: true, id_token_signed_response_alg: DEFAULT_ID_TOKEN_SIGNING_ALG }, { creating: true }));
  router.post('/admin/clients', ...post, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    const input = { ...settingsFrom(body), client_id: str(body.client_id), confidential: body.confidential === 'on' };
    const parsed = clientCreateInput.safeParse(input);
    const values = { ...formValues(settingsFrom(body)), client_id: input.client_id, confidential: input.confidential };
    if (!parsed.success) return clientForm(ctx, 'Register a client', '/admin/clients', values, { creating: true, errors: issues(parsed.error) }, 400);
    try {
      const c = await admin.createClient(actorOf(ctx), parsed.data, ctx);
      page(ctx, 'admin/client-secret.njk', { title: 'Client registered', client: clientView(c), secret: c.clientSecret });
    } catch (err) {
      if (!(err instanceof AdminError) || err.status >= 500) throw err;
      return clientForm(ctx, 'Register a client', '/admin/clients', values, { creating: true, errors: err.errors?.map((e) => `${e.path}: ${e.message}`) ?? [err.title] }, err.status);
    }
  });
  router.get('/admin/clients/:cid', async (ctx) => {
    const c = await clientParam(ctx);
    if (!c) return problem(ctx, 404, 'Not found', 'There is no such client.');
    clientForm(ctx, `Client ${c.clientId}`, `/admin/clients/${encodeURIComponent(c.clientId)}`, formValues(c), { client: clientView(c), notice: str(ctx.query.notice) === 'saved' ? 'Saved.' : undefined });
  });
  router.post('/admin/clients/:cid', ...post, async (ctx) => {
    const c = await clientParam(ctx);
    if (!c) return problem(ctx, 404, 'Not found', 'There is no such client.');
    const settings = settingsFrom(ctx.request.body as Record<string, unknown>);
    const action = `/admin/clients/${encodeURIComponent(c.clientId)}`;
    const parsed = clientUpdateInput.safeParse(settings);
    if (!parsed.success) return clientForm(ctx, `Client ${c.clientId}`, action, formValues(settings), { client: clientView(c), errors: issues(parsed.error) }, 400);
    try {
      await admin.updateClient(actorOf(ctx), c.clientId, parsed.data, ctx);
    } catch (err) {
      if (!(err instanceof AdminError) || err.status >= 500) throw err;
      return clientForm(ctx, `Client ${c.clientId}`, action, formValues(settings), { client: clientView(c), errors: err.errors?.map((e) => `${e.path}: ${e.message}`) ?? [err.title] }, err.status);
    }
    ctx.status = 303;
    ctx.redirect(`${action}?notice=saved`);
  });

  const confirmRotate = (ctx: Context) => `/admin/clients/${encodeURIComponent(String(ctx.params.cid))}/rotate`;
  router.get('/admin/clients/:cid/rotate', requireFresh(confirmRotate, describeClient((id) => `give the client ${id} a new secret`)), async (ctx) => {
    const c = await clientParam(ctx);
    if (!c) return problem(ctx, 404, 'Not found', 'There is no such client.');
    page(ctx, 'admin/confirm.njk', {
      title: 'Rotate the client secret',
      question: `Give ${c.clientId} a new secret?`,
      consequence: 'The old secret stops working at once. The new one is shown once.',
      action: confirmRotate(ctx),
      button: 'Rotate secret',
      cancel: `/admin/clients/${encodeURIComponent(c.clientId)}`,
    });
  });
  router.post('/admin/clients/:cid/rotate', ...post, requireFresh(confirmRotate, describeClient((id) => `give the client ${id} a new secret`)), async (ctx) => {
    const c = await clientParam(ctx);
    if (!c) return problem(ctx, 404, 'Not found', 'There is no such client.');
    const rotated = await admin.rotateSecret(actorOf(ctx), c.clientId, ctx);
    page(ctx, 'admin/client-secret.njk', { title: 'New client secret', client: clientView(rotated), secret: rotated.clientSecret });
  });

  const confirmDelete = (ctx: Context) => `/admin/clients/${encodeURIComponent(String(ctx.params.cid))}/delete`;
  router.get('/admin/clients/:cid/delete', requireFresh(confirmDelete, describeClient((id) => `delete the client ${id}`)), async (ctx) => {
    const c = await clientParam(ctx);
    if (!c) return problem(ctx, 404, 'Not found', 'There is no such client.');
    page(ctx, 'admin/confirm.njk', {
      title: 'Delete a client',
      question: `Delete ${c.clientId}?`,
      consequence: 'Its users can no longer sign in through it, and its admin API tokens stop working.',
      action: confirmDelete(ctx),
      button: 'Delete client',
      cancel: `/admin/clients/${encodeURIComponent(c.clientId)}`,
    });
  });
  router.post('/admin/clients/:cid/delete', ...post, requireFresh(confirmDelete, describeClient((id) => `delete the client ${id}`)), async (ctx) => {
    const c = await clientParam(ctx);
    if (!c) return problem(ctx, 404, 'Not found', 'There is no such client.');
    await admin.deleteClient(actorOf(ctx), c.clientId, ctx);
    ctx.status = 303;
    ctx.redirect('/admin/clients');
  });

  // ---- audit trail ---------------------------------------------------------------------------------

  /** The page's filter: form fields (datetime-local is read as UTC), empty fields dropped. */
  const auditInput = (ctx: Context) => {
    const q = ctx.query as Record<string, unknown>;
    const time = (v: unknown) => {
      const s = str(v);
      return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(s) ? `${s}:00Z` : s || undefined;
    };
    return {
      subject: str(q.subject) || undefined,
      actor: str(q.actor) || undefined,
      type: str(q.type) || undefined,
      since: time(q.since),
      until: time(q.until),
      before: str(q.before) || undefined,
      limit: str(q.limit) || undefined,
      format: str(q.format) || undefined,
    };
  };
  const filterQuery = (f: ReturnType<typeof auditInput>, extra: Record<string, string> = {}) =>
    new URLSearchParams({ ...Object.fromEntries(Object.entries({ ...f, before: undefined, format: undefined, limit: undefined }).filter(([, v]) => v)), ...extra } as Record<string, string>).toString();

  /** Issue #15: the user and actor fields take an email as well as an id; an unknown email says so. */
  const resolvePeople = async (input: ReturnType<typeof auditInput>) => {
    const unknown: string[] = [];
    const resolve = async (value: string | undefined) => {
      if (!value?.includes('@')) return value;
      const account = await deps.accounts.findByEmail(value);
      if (!account) unknown.push(value);
      return account?.id ?? value;
    };
    return { input: { ...input, subject: await resolve(input.subject), actor: await resolve(input.actor) }, unknown };
  };
  const AUDIT_PAGE_SIZE = '50';

  router.get('/admin/audit', async (ctx) => {
    const given = auditInput(ctx);
    const { input, unknown } = await resolvePeople({ ...given, limit: given.limit ?? AUDIT_PAGE_SIZE });
    const parsed = auditQuery.safeParse(input);
    const filters = { ...given, since: str(ctx.query.since), until: str(ctx.query.until) };
    const types = await deps.audit.types();
    const typeChoices = [...new Set(types.map((t) => `${t.split('.')[0]}.*`)), ...types].sort();
    if (unknown.length) return page(ctx, 'admin/audit.njk', { title: 'Audit trail', filters, typeChoices, errors: unknown.map((e) => `No user has the email ${e}.`), events: [] }, 404);
    if (!parsed.success) return page(ctx, 'admin/audit.njk', { title: 'Audit trail', filters, typeChoices, errors: issues(parsed.error), events: [] }, 400);
    const events = (await admin.listAudit(auditFilterOf(parsed.data))).map(auditJson);
    const names = await namesFor(events);
    const extras = deps.auditEventExtras ? await deps.auditEventExtras(events.map((e) => e.id)) : undefined;
    const last = events.length === parsed.data.limit ? events[events.length - 1]!.id : undefined;
    page(ctx, 'admin/audit.njk', {
      title: 'Audit trail',
      filters,
      typeChoices,
      events: events.map((e) => ({ ...eventView(e, names), ...extras?.get(e.id) })),
      older: last ? `/admin/audit?${filterQuery(given, { before: last })}` : undefined,
      newest: given.before ? `/admin/audit?${filterQuery(given)}` : undefined,
      exportCsv: `/admin/audit/export?${filterQuery(input, { format: 'csv' })}`,
      exportJson: `/admin/audit/export?${filterQuery(input, { format: 'json' })}`,
    });
  });

  /** Up to 10,000 events matching the filter, as a download. */
  router.get('/admin/audit/export', async (ctx) => {
    const { input, unknown } = await resolvePeople({ ...auditInput(ctx), limit: '1000' });
    if (unknown.length) return problem(ctx, 404, 'Not found', unknown.map((e) => `No user has the email ${e}.`).join(' '));
    const parsed = auditQuery.safeParse(input);
    if (!parsed.success) return problem(ctx, 400, 'Bad filter', issues(parsed.error).join('; '));
    const filter = auditFilterOf(parsed.data);
    const all: ReturnType<typeof auditJson>[] = [];
    for (let before = filter.before; all.length < 10_000; ) {
      const batch = (await admin.listAudit({ ...filter, before, limit: 1000 })).map(auditJson);
      all.push(...batch);
      if (batch.length < 1000) break;
      before = batch[batch.length - 1]!.id;
    }
    await deps.audit.record({ type: 'admin.audit.export', outcome: 'success', actor: actorOf(ctx).actor, clientId: ADMIN_CLIENT_ID, details: { format: parsed.data.format, count: all.length, filter: { ...filter, since: parsed.data.since, until: parsed.data.until } } }, ctx);
    const csv = parsed.data.format === 'csv';
    ctx.type = csv ? 'text/csv; charset=utf-8' : 'application/json';
    ctx.set('Content-Disposition', `attachment; filename="stepup-audit.${csv ? 'csv' : 'json'}"`);
    ctx.body = csv ? auditCsv(all, await namesFor(all)) : JSON.stringify({ items: all });
  });

  deps.morePages?.(router, { page, problem, post, actorOf });
  return router;
}
