import { createHash } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { koaBody } from 'koa-body';
import type { Audit } from '../audit/audit.js';
import { verifyPassword } from '../factors/password/password.js';
import { hashRecoveryCode, looksLikeRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from '../factors/recovery-codes/recovery-codes.js';
import { formatManualKey, matchTotpStep, newTotpSecret, totpQrDataUrl, totpUri } from '../factors/totp/totp.js';
import { requireCsrf, type Csrf } from '../http/csrf.js';
import type { NewPasswordStep } from '../account/new-password-step.js';
import type { Views } from '../http/render.js';
import { amrForEvent, type MissingStep } from '../stepup/index.js';
import type { AccountReads } from '../store/account-reads.js';
import type { AccountsRepo } from '../store/accounts.repo.js';
import type { FactorsRepo } from '../store/factors.repo.js';
import type { InteractionProgress } from './progress.js';
import type { RecoveryCodesRepo } from '../store/recovery-codes.repo.js';
import { lockedMessage, type AttemptAudit, type AttemptGuard, type AttemptSubjects } from './attempts.js';
import { finishLogin, finishWithError, recordEvent, resolveFlow, type FlowDeps, type FlowState, type InteractionDetails } from './flow.js';
import { acceptAssertion, credentialsForSteps, prepareAssertion, type WebAuthnStepDeps } from './webauthn-step.js';
import { WebAuthnRejected } from '../factors/webauthn/webauthn.js';

/**
 * The people-facing sign-in and step-up pages (SPEC §2 rule 3, §5). Every route lives under
 * /interaction/<uid> because oidc-provider scopes the interaction cookie to that path. Every POST
 * re-reads the interaction and the progress server-side, checks CSRF and the rate limits, and then
 * lets the policy decide the next step: finish, ask for the next missing step, or unmet.
 */
export interface InteractionDeps extends FlowDeps, WebAuthnStepDeps {
  views: Views;
  csrf: Csrf;
  accounts: AccountsRepo;
  /** the account and its factors, read once per request (issue #6) */
  reads: AccountReads;
  factors: FactorsRepo;
  recoveryCodes: RecoveryCodesRepo;
  attempts: AttemptGuard;
  audit: Audit;
  issuerName: string;
  notify: (accountId: string, message: string) => Promise<void>;
  /** issue #15: "must change the password at next sign-in" (src/account/new-password-step.ts) */
  newPassword?: Pick<NewPasswordStep, 'interrupt'>;
}

const GENERIC_LOGIN_ERROR = 'Incorrect email or password.';
const GENERIC_CODE_ERROR = 'That code is not valid. Check your authenticator app and try again.';
const GENERIC_RECOVERY_ERROR = 'That recovery code is not valid or was already used.';
const GENERIC_WEBAUTHN_ERROR = 'That passkey or security key could not be verified. Try again, or choose another way.';
const MAX_EMAIL_LENGTH = 254;
const MAX_LABEL_LENGTH = 64;
/** SPEC §4: adding a factor needs a verification no older than this. */
const ENROLLMENT_FRESHNESS_SECONDS = 5 * 60;

const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '16kb' });

const hashSubject = (value: string) => createHash('sha256').update(value).digest('base64url');

export function createInteractionRouter(deps: InteractionDeps): Router {
  const { provider, views, csrf } = deps;
  const router = new Router();

  const page = (ctx: Context, view: string, context: Record<string, unknown>) => {
    ctx.type = 'html';
    ctx.body = views.render(view, { csrf: csrf.token(ctx), ...context });
  };

  const errorPage = (ctx: Context, status: number, title: string, message: string, code: string) => {
    ctx.status = status;
    page(ctx, 'error.njk', { title, message, code, requestId: ctx.state.requestId });
  };
  const expired = (ctx: Context) =>
    errorPage(ctx, 400, 'Sign-in expired', 'Your sign-in took too long or was opened in another browser. Go back to the application and try again.', 'session_not_found');
  const csrfFailed = (ctx: Context) =>
    errorPage(ctx, 403, 'Form expired', 'This form expired or was submitted from another site. Go back and try again.', 'csrf_failed');

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } catch (err) {
      // the interaction is gone (expired, finished, other browser): a readable page, never a 500
      if ((err as { name?: string }).name === 'SessionNotFound') return expired(ctx);
      throw err;
    }
  });

  const loadInteraction = async (ctx: Context): Promise<InteractionDetails | undefined> => {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid || interaction.prompt.name !== 'login') {
      expired(ctx);
      return undefined;
    }
    return interaction;
  };

  const clientName = async (interaction: InteractionDetails) => {
    const id = interaction.params.client_id;
    return typeof id === 'string' ? ((await provider.Client.find(id))?.clientName ?? id) : undefined;
  };

  /** Why the user is asked for more, in plain words (issue #3 item 7). */
  const reasonText = (state: FlowState) => {
    const d = state.decision;
    if (!d || d.outcome !== 'step_up') return undefined;
    if (d.reason === 'max_age_exceeded' || d.reason === 'fresh_login_requested') return 'This app asks you to confirm it is you again.';
    // worded after the target's step: a password session asked for phr needs a key, not "a second factor"
    const target = d.missing[d.missing.length - 1]?.step;
    if (target === 'phishing_resistant' || target === 'device_bound') return 'This app asks for a security key or passkey.';
    if (target === 'second_factor') return 'This app asks for a second factor.';
    return undefined;
  };

  /** SPEC §4: adding a factor needs a primary verification no older than 5 minutes. */
  const hasFreshPrimary = (state: FlowState) =>
    state.events.some((e) => (e.factor === 'password' || (e.factor === 'webauthn' && e.userVerified)) && deps.now() - e.at <= ENROLLMENT_FRESHNESS_SECONDS);

  /**
   * Renders the page for the next missing step, or finishes. The single place that decides what comes next.
   * @param known the state this request already resolved, when nothing it depends on was written since
   */
  const proceed = async (ctx: Context, interaction: InteractionDetails, extra: Record<string, unknown> = {}, known?: FlowState) => {
    const state = known ?? (await resolveFlow(deps, interaction, ctx));
    const name = await clientName(interaction);
    if (!state.accountId || !state.decision) {
      const hint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint.slice(0, MAX_EMAIL_LENGTH) : '';
      // a passkey signs in without a username (discoverable credential): the options name no credential
      const passkeyOptions = await prepareAssertion(deps, interaction.uid, { allow: [], requireUserVerification: true });
      return page(ctx, 'login.njk', { title: 'Sign in', uid: interaction.uid, email: hint, clientName: name, passkeyOptions, ...extra });
    }
    const decision = state.decision;
    if (decision.outcome === 'satisfied') return finishLogin(deps, ctx, { ...state, decision });
    if (decision.outcome === 'unmet') {
      return finishWithError(deps, ctx, interaction, 'unmet_authentication_requirements', `the requested authentication level cannot be reached (${decision.reason})`);
    }
    const account = await deps.reads.account(ctx, state.accountId);
    if (!account || account.disabledAt) return finishWithError(deps, ctx, interaction, 'access_denied', 'the account is not available');
    const step = decision.missing[0]!;
    const common = { uid: interaction.uid, clientName: name, email: account.email, reason: reasonText(state), ...extra };

    if (step.step === 'primary') {
      // a known user re-verifying: their own passkeys (user verification required), if they have any
      const passkeys = step.allowedFactors.includes('webauthn') ? credentialsForSteps(deps.policy, [step], await deps.factors.webAuthnCredentials(state.accountId)) : [];
      const passkeyOptions = passkeys.length
        ? await prepareAssertion(deps, interaction.uid, { accountId: state.accountId, allow: passkeys, requireUserVerification: true })
        : undefined;
      return page(ctx, 'login.njk', { title: 'Confirm it is you', fixedAccount: true, passkeyOptions, ...common });
    }

    if (decision.enrollmentAllowed && !decision.missing.some((m) => m.allowedFactors.some((f) => f !== 'totp'))) {
      if (!hasFreshPrimary(state)) return page(ctx, 'login.njk', { title: 'Confirm it is you', fixedAccount: true, ...common, reason: 'Confirm your password before adding a second factor.' });
      return renderTotpEnrollment(ctx, interaction, state, common);
    }
    // SPEC §2 rule 3: the user chooses among the enrolled factors that fit; phishing-resistant first.
    // For phr/phrh only WebAuthn fits, so only WebAuthn is offered (the policy's allowedFactors say so).
    // A later step only WebAuthn can prove (phr, phrh) makes WebAuthn the only offer for the earlier ones
    // too: one assertion proves them all, and a TOTP code first would only lead to the same key prompt.
    const onlyWebAuthn = decision.missing.some((m) => m.allowedFactors.length === 1 && m.allowedFactors[0] === 'webauthn');
    const methods = {
      webauthn: step.allowedFactors.includes('webauthn'),
      totp: !onlyWebAuthn && step.allowedFactors.includes('totp'),
      recovery_code: !onlyWebAuthn && step.allowedFactors.includes('recovery_code'),
    };
    const wanted = String(extra.method ?? ctx.query.use ?? '');
    const method = (['webauthn', 'totp', 'recovery_code'] as const).find((m) => m === wanted && methods[m]) ?? (['webauthn', 'totp', 'recovery_code'] as const).find((m) => methods[m]);
    const withMethods = { ...common, methods };
    if (method === 'webauthn') return renderWebAuthnStep(ctx, interaction, state, decision.missing, withMethods);
    if (method === 'recovery_code') return page(ctx, 'recovery.njk', { title: 'Enter a recovery code', ...withMethods });
    if (method === 'totp') return page(ctx, 'totp.njk', { title: 'Enter your code', ...withMethods });
    return finishWithError(deps, ctx, interaction, 'unmet_authentication_requirements', 'no enrolled factor can reach the requested level');
  };

  /** The second-factor / phishing-resistant page: the account's credentials that fit, in one assertion. */
  const renderWebAuthnStep = async (ctx: Context, interaction: InteractionDetails, state: FlowState, missing: MissingStep[], common: Record<string, unknown>) => {
    const allow = credentialsForSteps(deps.policy, missing, await deps.factors.webAuthnCredentials(state.accountId!));
    const options = await prepareAssertion(deps, interaction.uid, { accountId: state.accountId!, allow, requireUserVerification: false });
    const passkeys = allow.filter((c) => c.userVerifying).length;
    const [instruction, buttonText] =
      passkeys === allow.length
        ? ['Use your passkey to continue.', 'Use your passkey']
        : passkeys === 0
          ? ['Insert your security key and touch it when it blinks.', 'Use your security key']
          : ['Use your passkey, or insert your security key and touch it.', 'Use your passkey or security key'];
    page(ctx, 'webauthn.njk', { title: passkeys === 0 ? 'Insert your security key' : 'Use your passkey', instruction, buttonText, options, ...common });
  };

  const renderTotpEnrollment = async (ctx: Context, interaction: InteractionDetails, state: FlowState, common: Record<string, unknown>) => {
    // a step-up from an existing session (e.g. aal1 → aal2) has no progress yet in this interaction
    const progress = state.progress ?? { accountId: state.accountId!, startedAt: deps.now(), events: [] };
    let pendingId = progress.pendingTotpId;
    let secret = pendingId ? (await deps.factors.totpSecret(pendingId, state.accountId!))?.secret : undefined;
    if (!pendingId || !secret) {
      secret = newTotpSecret();
      pendingId = (await deps.factors.createPendingTotp(state.accountId!, 'Authenticator app', secret)).id;
      deps.reads.forget(ctx);
      await deps.progress.put(interaction.uid, { ...progress, pendingTotpId: pendingId }, interaction.exp - Math.floor(Date.now() / 1000));
    }
    const uri = totpUri(secret, deps.issuerName, String(common.email));
    page(ctx, 'totp-enroll.njk', {
      title: 'Set up an authenticator app',
      ...common,
      qr: await totpQrDataUrl(uri),
      manualKey: formatManualKey(secret),
    });
  };

  /** Post/redirect/get to the interaction's page, so a refresh never re-submits a form. */
  const nextStep = (ctx: Context, interaction: InteractionDetails) => {
    ctx.status = 303;
    ctx.redirect(`/interaction/${interaction.uid}`);
  };

  /**
   * After a verified factor: when it was the last step the login finishes here, answered with a 303 to
   * oidc-provider's resume (still post/redirect/get: a refresh never re-submits the form); otherwise
   * a 303 to the page of the next step. Saves a sign-in the request that only finished (issue #6).
   */
  const afterVerified = async (ctx: Context, interaction: InteractionDetails, progress: InteractionProgress) => {
    const state = await resolveFlow(deps, interaction, ctx, { progress });
    if (state.decision?.outcome === 'satisfied') return finishLogin(deps, ctx, { ...state, decision: state.decision });
    return nextStep(ctx, interaction);
  };

  /**
   * The consent prompt (prompt=consent, e.g. with offline_access). Every registered client is first-party,
   * so consent is recorded without a page and audited; a per-client consent screen is not built yet.
   */
  const recordConsent = async (ctx: Context, interaction: InteractionDetails) => {
    const { details } = interaction.prompt as { details: { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> } };
    const accountId = interaction.session?.accountId;
    const clientId = String(interaction.params.client_id);
    if (!accountId) return expired(ctx);
    const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
    const grant = existing ?? new provider.Grant({ accountId, clientId });
    if (details.missingOIDCScope?.length) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims?.length) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
    const grantId = await grant.save();
    await deps.audit.record({ type: 'consent.recorded', outcome: 'success', subject: accountId, clientId, details: { scopes: details.missingOIDCScope ?? [] } }, ctx);
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, { consent: existing ? {} : { grantId } }, { mergeWithLastSubmission: true });
    ctx.status = 303;
    ctx.redirect(returnTo);
  };

  /** Refused before the guess is checked (SPEC §3): 429 with Retry-After, the same step shown with the wait. */
  const refuseIfLocked = async (
    ctx: Context,
    interaction: InteractionDetails,
    subjects: AttemptSubjects,
    what: AttemptAudit,
    state: FlowState,
    extra: Record<string, unknown> = {},
  ): Promise<boolean> => {
    const lockedFor = await deps.attempts.lockedFor(ctx, subjects, what);
    if (lockedFor === undefined) return false;
    ctx.status = 429;
    ctx.set('Retry-After', String(lockedFor));
    await proceed(ctx, interaction, { ...extra, error: lockedMessage(lockedFor) }, state);
    return true;
  };

  router.get('/interaction/:uid', async (ctx) => {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid) return expired(ctx);
    if (interaction.prompt.name === 'consent') return recordConsent(ctx, interaction);
    if (interaction.prompt.name !== 'login') return expired(ctx);
    await proceed(ctx, interaction);
  });

  router.post('/interaction/:uid/password', form, requireCsrf(csrf, csrfFailed), async (ctx) => {
    const interaction = await loadInteraction(ctx);
    if (!interaction) return;
    const body = ctx.request.body as Record<string, unknown>;
    const state = await resolveFlow(deps, interaction, ctx);
    // re-authentication of a known account: the account is fixed server-side, the email field is only for password managers
    const known = state.accountId ? await deps.reads.account(ctx, state.accountId) : undefined;
    const email = known?.email ?? (typeof body.email === 'string' ? body.email.slice(0, MAX_EMAIL_LENGTH) : '');
    const password = typeof body.password === 'string' ? body.password : '';
    const subjects = { account: `pwd:acct:${hashSubject(email.trim().toLowerCase())}`, ip: `ip:${ctx.ip}` };
    const clientId = String(interaction.params.client_id);

    if (await refuseIfLocked(ctx, interaction, subjects, { type: 'login.password', subject: known?.id, clientId }, state, { email })) return;

    const found = email ? await deps.reads.credentialsByEmail(ctx, email) : undefined;
    const usable = found && !found.account.disabledAt ? found : undefined;
    const ok = await verifyPassword(usable?.passwordHash, password);
    if (!ok || !usable) {
      await deps.attempts.failed(ctx, subjects, { type: 'login.password', reason: 'bad_credentials', subject: found?.account.id, clientId });
      ctx.status = 401;
      if (known) return proceed(ctx, interaction, { error: GENERIC_LOGIN_ERROR }, state);
      return page(ctx, 'login.njk', { title: 'Sign in', uid: interaction.uid, email, clientName: await clientName(interaction), error: GENERIC_LOGIN_ERROR });
    }

    await deps.attempts.succeeded(subjects);
    await deps.audit.record({ type: 'login.password', outcome: 'success', subject: usable.account.id, clientId }, ctx);
    const event = { factor: 'password' as const, at: deps.now(), amr: [] as string[] };
    event.amr = amrForEvent(event);
    const progress = await recordEvent(deps, interaction, usable.account.id, event, state.progress);
    if (await deps.newPassword?.interrupt(ctx, interaction.uid, usable.account)) return; // issue #15: a new password first
    return afterVerified(ctx, interaction, progress);
  });

  router.post('/interaction/:uid/totp', form, requireCsrf(csrf, csrfFailed), async (ctx) => {
    const interaction = await loadInteraction(ctx);
    if (!interaction) return;
    const state = await resolveFlow(deps, interaction, ctx);
    if (!state.accountId || state.decision?.outcome !== 'step_up') return proceed(ctx, interaction, {}, state);
    const accountId = state.accountId;
    const code = typeof (ctx.request.body as Record<string, unknown>).code === 'string' ? String((ctx.request.body as Record<string, unknown>).code).slice(0, 32) : '';
    const enrolling = (ctx.request.body as Record<string, unknown>).enroll === '1';
    // re-checked at confirmation, not only when the page was shown: a second factor enrolled meanwhile
    // (another session) means SPEC §4 now asks for aal2 before adding one
    if (enrolling && !(state.decision.enrollmentAllowed && hasFreshPrimary(state))) return nextStep(ctx, interaction);
    const subjects = { account: `totp:acct:${accountId}`, ip: `ip:${ctx.ip}` };
    const clientId = String(interaction.params.client_id);

    if (await refuseIfLocked(ctx, interaction, subjects, { type: 'login.totp', subject: accountId, clientId }, state)) return;

    const now = deps.now();
    const candidates = enrolling
      ? state.progress?.pendingTotpId
        ? [state.progress.pendingTotpId]
        : []
      : (state.enrolled ?? []).filter((f) => f.factor === 'totp').map((f) => f.credentialId!);
    let accepted: string | undefined;
    let issuedCodes: string[] | undefined;
    for (const factorId of candidates) {
      const stored = await deps.factors.totpSecret(factorId, accountId);
      if (!stored || (enrolling ? stored.status !== 'pending' : stored.status !== 'active')) continue;
      const step = await matchTotpStep(stored.secret, code, now, stored.lastUsedStep);
      if (step === undefined) continue;
      if (enrolling) {
        // the factor and the first recovery codes in one transaction (issue #7), with the same atomic claim
        const codes = newRecoveryCodes();
        const confirmed = await deps.factors.confirmTotpEnrollment(factorId, accountId, step, codes.map(hashRecoveryCode));
        if (confirmed) {
          // a confirmed enrollment is an active factor now (and maybe codes): what this request read is stale
          deps.reads.forget(ctx);
          accepted = factorId;
          if (confirmed.recoveryCodesIssued) issuedCodes = codes;
          break;
        }
      } else if (await deps.factors.claimTotpStep(factorId, accountId, step)) {
        // RFC 6238 §5.2: the atomic claim decides; a parallel submission of the same code loses here
        accepted = factorId;
        break;
      }
    }

    if (!accepted) {
      await deps.attempts.failed(ctx, subjects, { type: enrolling ? 'factor.enroll' : 'login.totp', reason: 'bad_code', subject: accountId, clientId });
      ctx.status = 401;
      return proceed(ctx, interaction, { error: GENERIC_CODE_ERROR }, state);
    }

    await deps.attempts.succeeded(subjects);
    if (enrolling) {
      await deps.audit.record({ type: 'factor.enroll', outcome: 'success', reason: 'totp_during_step_up', subject: accountId, clientId, details: { factorId: accepted, type: 'totp' } }, ctx);
      await deps.notify(accountId, 'An authenticator app was added to your account.');
      // the first second factor comes with recovery codes, shown once (SPEC §3)
      if (issuedCodes) {
        await deps.audit.record({ type: 'recovery_codes.issued', outcome: 'success', subject: accountId, clientId, details: { count: issuedCodes.length } }, ctx);
      }
    } else {
      await deps.audit.record({ type: 'login.totp', outcome: 'success', subject: accountId, clientId, details: { factorId: accepted } }, ctx);
    }
    const event = { factor: 'totp' as const, credentialId: accepted, at: now, amr: [] as string[] };
    event.amr = amrForEvent(event);
    // the confirmed enrollment is no longer pending: one write records both
    const progress = await recordEvent(deps, interaction, accountId, event, enrolling && state.progress ? { ...state.progress, pendingTotpId: undefined } : state.progress);
    if (issuedCodes) return page(ctx, 'recovery-codes.njk', { title: 'Save your recovery codes', uid: interaction.uid, codes: issuedCodes });
    return afterVerified(ctx, interaction, progress);
  });

  router.post('/interaction/:uid/recovery', form, requireCsrf(csrf, csrfFailed), async (ctx) => {
    const interaction = await loadInteraction(ctx);
    if (!interaction) return;
    const state = await resolveFlow(deps, interaction, ctx);
    if (!state.accountId || state.decision?.outcome !== 'step_up' || !state.decision.missing[0]?.allowedFactors.includes('recovery_code')) {
      return nextStep(ctx, interaction);
    }
    const accountId = state.accountId;
    const body = ctx.request.body as Record<string, unknown>;
    const code = normalizeRecoveryCode(typeof body.code === 'string' ? body.code.slice(0, 64) : '');
    const subjects = { account: `recovery:acct:${accountId}`, ip: `ip:${ctx.ip}` };
    const clientId = String(interaction.params.client_id);

    if (await refuseIfLocked(ctx, interaction, subjects, { type: 'login.recovery_code', subject: accountId, clientId }, state, { method: 'recovery_code' })) return;
    // single-use: the conditional UPDATE decides, so parallel uses of one code give one success
    if (!looksLikeRecoveryCode(code) || !(await deps.recoveryCodes.consume(accountId, hashRecoveryCode(code)))) {
      await deps.attempts.failed(ctx, subjects, { type: 'login.recovery_code', reason: 'bad_code', subject: accountId, clientId });
      ctx.status = 401;
      return proceed(ctx, interaction, { error: GENERIC_RECOVERY_ERROR, method: 'recovery_code' }, state);
    }
    deps.reads.forget(ctx); // a code was used: the last one leaves no recovery factor
    await deps.attempts.succeeded(subjects);
    const remaining = await deps.recoveryCodes.remaining(accountId);
    await deps.audit.record({ type: 'login.recovery_code', outcome: 'success', subject: accountId, clientId, details: { remaining } }, ctx);
    await deps.notify(accountId, `A recovery code was used to sign in. ${remaining} remain.`);
    const event = { factor: 'recovery_code' as const, at: deps.now(), amr: [] as string[] };
    event.amr = amrForEvent(event);
    await recordEvent(deps, interaction, accountId, event, state.progress);
    // SPEC §3: the user is told how many remain, before returning to the app
    return page(ctx, 'recovery-used.njk', { title: 'Recovery code accepted', uid: interaction.uid, remaining });
  });

  /**
   * A WebAuthn assertion (SPEC §3): a passkey sign-in from the login page (the credential names the
   * account) or a step-up factor of the account already identified. Every refusal is audited with its
   * reason and counted by the rate limits, and leaves the session's level as it was.
   */
  router.post('/interaction/:uid/webauthn', form, requireCsrf(csrf, csrfFailed), async (ctx) => {
    const interaction = await loadInteraction(ctx);
    if (!interaction) return;
    const state = await resolveFlow(deps, interaction, ctx);
    if (state.decision && state.decision.outcome !== 'step_up') return proceed(ctx, interaction, {}, state);
    const raw = (ctx.request.body as Record<string, unknown>).response;
    const clientId = String(interaction.params.client_id);
    // a discoverable sign-in has no account yet: its failures count per IP and per credential id
    const claimedId = typeof raw === 'string' ? (/"id"\s*:\s*"([A-Za-z0-9_-]{1,1400})"/.exec(raw)?.[1] ?? 'none') : 'none';
    const subjects = { account: state.accountId ? `webauthn:acct:${state.accountId}` : `webauthn:cred:${hashSubject(claimedId)}`, ip: `ip:${ctx.ip}` };
    const what = { type: 'login.webauthn', subject: state.accountId, clientId };

    if (await refuseIfLocked(ctx, interaction, subjects, what, state, { method: 'webauthn' })) return;

    let accepted;
    try {
      accepted = await acceptAssertion(deps, interaction.uid, raw, state.accountId);
    } catch (err) {
      if (!(err instanceof WebAuthnRejected)) throw err;
      await deps.attempts.failed(ctx, subjects, { ...what, reason: err.reason });
      ctx.status = 401;
      return proceed(ctx, interaction, { error: GENERIC_WEBAUTHN_ERROR, method: 'webauthn' }, state);
    }
    deps.reads.forget(ctx); // the credential's counter and backup state were written
    const account = await deps.reads.account(ctx, accepted.credential.accountId);
    if (!account || account.disabledAt) {
      await deps.attempts.failed(ctx, subjects, { ...what, subject: accepted.credential.accountId, reason: 'account_disabled' });
      ctx.status = 401;
      return proceed(ctx, interaction, { error: GENERIC_WEBAUTHN_ERROR, method: 'webauthn' }, state);
    }
    await deps.attempts.succeeded(subjects);
    await deps.audit.record(
      {
        type: 'login.webauthn',
        outcome: 'success',
        subject: account.id,
        clientId,
        details: { factorId: accepted.credential.factorId, userVerified: accepted.userVerified, backupEligible: accepted.credential.backupEligible },
      },
      ctx,
    );
    const event = {
      factor: 'webauthn' as const,
      credentialId: accepted.credential.factorId,
      at: deps.now(),
      userVerified: accepted.userVerified,
      backupEligible: accepted.credential.backupEligible,
      attested: accepted.credential.attested,
      amr: [] as string[],
    };
    event.amr = amrForEvent(event);
    return afterVerified(ctx, interaction, await recordEvent(deps, interaction, account.id, event, state.progress));
  });

  router.post('/interaction/:uid/abort', form, requireCsrf(csrf, csrfFailed), async (ctx) => {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid) return expired(ctx);
    return finishWithError(deps, ctx, interaction, 'access_denied', 'the user cancelled the sign-in');
  });

  return router;
}
