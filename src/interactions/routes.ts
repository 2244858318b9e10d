import Router from '@koa/router';
import type { Context } from 'koa';
import type { NewPasswordStep } from '../account/new-password-step.js';
import type { Audit } from '../audit/audit.js';
import type { AttemptGuard } from '../factors/attempts.js';
import type { FactorDeps } from '../factors/deps.js';
import type { EnrollmentRegistry, FactorRegistry } from '../factors/factor.js';
import { requireCsrf, type Csrf } from '../http/csrf.js';
import { formBody, type PageKit } from '../http/kit.js';
import type { AccountReads } from '../store/account-reads.js';
import { mountStepUpEnrollment } from './enroll.routes.js';
import { finishWithError, type FlowDeps, type InteractionDetails } from './flow.js';
import { createNextStep } from './next-step.js';
import { mountVerification } from './verify.routes.js';

/**
 * The people-facing sign-in and step-up pages (SPEC §2 rule 3, §5). Every route lives under
 * /interaction/<uid> because oidc-provider scopes the interaction cookie to that path. The routes
 * are thin: the decision is stepup/decide.ts, the next page is next-step.ts, the factors are
 * src/factors/ behind one pipeline (verify.routes.ts) and one enrollment (enroll.routes.ts).
 */
export interface InteractionDeps extends FlowDeps {
  kit: PageKit;
  csrf: Csrf;
  reads: AccountReads;
  registry: FactorRegistry;
  enrollments: EnrollmentRegistry;
  factorDeps: FactorDeps;
  attempts: AttemptGuard;
  audit: Audit;
  /** issue #15: "must change the password at next sign-in" */
  newPassword?: Pick<NewPasswordStep, 'interrupt'>;
}

export function createInteractionRouter(deps: InteractionDeps): Router {
  const { provider, kit, csrf } = deps;
  const router = new Router();
  const next = createNextStep(deps);

  const expired = (ctx: Context) =>
    kit.problem(ctx, 400, { title: 'Sign-in expired', message: 'Your sign-in took too long or was opened in another browser. Go back to the application and try again.', code: 'session_not_found' });
  const csrfFailed = (ctx: Context) =>
    kit.problem(ctx, 403, { title: 'Form expired', message: 'This form expired or was submitted from another site. Go back and try again.', code: 'csrf_failed' });

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

  /** The interaction of this URL, at its login prompt; otherwise the expired page (and undefined). */
  const loadInteraction = async (ctx: Context): Promise<InteractionDetails | undefined> => {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid || interaction.prompt.name !== 'login') {
      expired(ctx);
      return undefined;
    }
    return interaction;
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

  router.get('/interaction/:uid', async (ctx) => {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid) return expired(ctx);
    if (interaction.prompt.name === 'consent') return recordConsent(ctx, interaction);
    if (interaction.prompt.name !== 'login') return expired(ctx);
    await next.proceed(ctx, interaction);
  });

  mountVerification(router, { ...deps, next, loadInteraction, csrfFailed });
  mountStepUpEnrollment(router, { ...deps, next, loadInteraction, csrfFailed });

  router.post('/interaction/:uid/abort', formBody(), requireCsrf(csrf, csrfFailed), async (ctx) => {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid) return expired(ctx);
    return finishWithError(deps, ctx, interaction, 'access_denied', 'the user cancelled the sign-in');
  });

  return router;
}
