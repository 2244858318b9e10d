import type { RequestListener } from 'node:http';
import Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Config } from './config/env.js';
import { createCsrf } from './http/csrf.js';
import { mountOwnRouters } from './http/routers.js';
import { requestReadsScope } from './store/redis/request-reads.js';
import { errorPages } from './http/errors.js';
import { isStoreUnavailable, StoreUnavailable } from './oidc/errors.js';
import { createViews } from './http/render.js';
import { requestContext } from './http/request-context.js';
import { securityHeaders } from './http/security-headers.js';
import { createStaticRouter } from './http/static.routes.js';
import { loadPolicy } from './config/policy-file.js';
import { createAttemptGuard } from './factors/attempts.js';
import type { FactorDeps } from './factors/deps.js';
import { createEnrollmentRegistry, createFactorRegistry } from './factors/registry.js';
import { createPageKit } from './http/kit.js';
import { createProgressStore } from './interactions/progress.js';
import { createInteractionRouter } from './interactions/routes.js';
import { createStepUpPolicy } from './oidc/policy.js';
import { createDeviceCookie } from './risk/device-cookie.js';
import { createRiskSignals } from './risk/signals.js';
import { jwtAccessTokenIntrospection } from './oidc/jwt-introspection.js';
import { createProvider, mayIntrospect, TTL } from './oidc/provider.js';
import { ensureSigningKeys, loadProviderJwks } from './oidc/signing-keys.js';
import { createDemoRouter } from './ops/demo.routes.js';
import { createHealthRouter, createStoreProbe } from './ops/health.routes.js';
import { httpMetrics, OIDC_ROUTE_TEMPLATES, routeTemplates } from './ops/http-metrics.js';
import { createManagementApp } from './ops/management.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import { watchProvider } from './ops/oidc-metrics.js';
import { watchStoreErrors } from './ops/store-metrics.js';
import { createLogger, type Logger } from './ops/logger.js';
import { createNoticeSender, type SendNotice } from './notifications/notices.js';
import { createNotifier, emailOutbox } from './notifications/notifier.js';
import { createEmailDelivery } from './notifications/email.js';
import { createOutboxWorker, type Delivery, type OutboxWorker, type OutboxWorkerOptions } from './outbox/worker.js';
import { createWebhookDelivery } from './webhooks/delivery.js';
import type { OutboxChannel } from './store/outbox.repo.js';
import { createNewPasswordStep } from './account/new-password-step.js';
import { createPasswordResetRouter } from './account/password-reset.routes.js';
import { createSessionEventsStore } from './store/redis/session-events.js';
import { createFailureLimiter } from './store/redis/failure-limiter.js';
import { openStores, type Stores } from './store/stores.js';
import { createAccountReads } from './store/account-reads.js';
import { createChallengeStore } from './store/redis/webauthn-challenges.js';
import { createWebAuthnUsersRepo } from './store/webauthn-users.repo.js';
import { relyingPartyFor } from './factors/webauthn/webauthn.js';
import { accountClient, withBuiltInClients } from './account/internal-client.js';
import { createAccountRouter } from './account/routes.js';
import { createAccountSessions } from './store/redis/account-sessions.js';
import { isExternalRedis } from './store/redis/client.js';
import { adminClient, createAdminRouters } from './admin/index.js';
import { describeUserAgent } from './admin/user-agent.js';
import { withClientCache } from './oidc/client-adapter.js';

export type { Stores };

/**
 * Composition root: the only module that knows every concrete implementation. Everything else gets
 * its dependencies handed in, so tests can build the same app against per-run schemas and prefixes.
 */
export interface AppOptions {
  /** Postgres schema to use (tests: one per run) */
  schema?: string;
  logger?: Logger;
  /** epoch seconds; tests pass a controllable clock */
  now?: () => number;
  /** where notices carrying a secret (a forgot-password link) go; tests capture them */
  sendNotice?: SendNotice;
  /** issue #17: the outbox worker's timing (tests: a short backoff, their own clock); `start: false` leaves it stopped */
  outbox?: OutboxWorkerOptions & { start?: boolean };
}

export interface App {
  provider: Provider;
  policy: ReturnType<typeof loadPolicy>;
  stores: Stores;
  logger: Logger;
  /** issue #17: delivers the outbox (mail, webhooks); started with the app, stopped by close() */
  outbox: OutboxWorker;
  callback: ReturnType<Provider['callback']>;
  /** this app's metrics (its own registry) */
  metrics: Metrics;
  /** the management interface (/metrics, /healthz, /readyz): served by src/ops/management.ts on MANAGEMENT_PORT, never on the public port */
  managementCallback: RequestListener;
  close(): Promise<void>;
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  if (!isExternalRedis(config.redis)) logger.warn('No Redis is configured (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES): using an in-process store (single instance only, sessions are lost on restart)');
  if (!config.databaseUrl) logger.warn(`DATABASE_URL is not set: using embedded Postgres (PGlite) under ${config.dataDir}`);

  const policy = loadPolicy(config.policyFile);
  const acrValues = policy.levels.map((l) => l.acr);
  const stores = await openStores(config, logger, options.schema, { outboxClock: options.outbox?.clock });
  // issue #17: counted at the audit seam and from the stores' and the provider's own events, never with an await
  const metrics = createMetrics({ acrValues });
  stores.audit.observe(metrics.countAudit);
  watchStoreErrors(stores.db, stores.redis, metrics);
  const probe = createStoreProbe(stores.db, stores.redis, metrics.storePinged);
  if (await ensureSigningKeys(stores.signingKeys)) logger.info('generated signing keys (ES256, RS256)');
  const jwks = await loadProviderJwks(stores.signingKeys);

  const views = createViews();
  const csrf = createCsrf(config.cookieKeys);
  const prefix = config.redisKeyPrefix;
  const limiter = createFailureLimiter(stores.redis, prefix);
  const progress = createProgressStore(stores.redis, prefix);
  const sessionEvents = createSessionEventsStore(stores.redis, prefix, TTL.Session);
  // the account and its factors in one query, read once per request by the sign-in pages and the step-up check
  // issue #20: the token paths' account reads cached for a few seconds, dropped on change (any instance)
  stores.accountChanges.listen();
  const reads = createAccountReads(stores.db, stores.accounts, { changes: stores.accountChanges });
  const enrolledFactors = (accountId: string, scope?: object) => reads.enrolledFactors(scope, accountId);

  // client records are read on every token call: cached for a few seconds (issue #6), dropped on change
  const clients = withClientCache(stores.clients);
  const provider = createProvider({
    issuer: config.issuer,
    redis: stores.redis,
    redisKeyPrefix: prefix,
    accounts: reads,
    // the account page's and the admin UI's own clients are built in (not stored): they cannot be edited or deleted
    clients: withBuiltInClients(clients, [accountClient(config.issuer), adminClient(config.issuer)]),
    jwks,
    cookieKeys: config.cookieKeys,
    acrValues,
    isKnownAcr: (acr) => acrValues.includes(acr),
    policy: createStepUpPolicy({ policy, sessionEvents, enrolledFactors, audit: stores.audit, now }),
    views,
    trustProxy: config.trustProxy,
    resourceSigningAlgs: config.resourceSigningAlgs,
  });

  const webauthnUsers = createWebAuthnUsersRepo(stores.db);
  const challenges = createChallengeStore(stores.redis, prefix);
  const rp = relyingPartyFor(config.issuer);

  // issue #17: with SMTP_URL notifications and reset links go through the outbox; without, log lines
  const mailOutbox = config.smtpUrl ? stores.outbox : undefined;
  const notify = createNotifier({ logger, db: stores.db, now, outbox: mailOutbox ? emailOutbox(mailOutbox) : undefined });
  const attempts = createAttemptGuard(limiter, stores.audit, notify);
  // issue #16: risk signals (new device, new network, recent failures), per the policy file's "risk"
  const deviceCookie = createDeviceCookie(config.cookieKeys, { secure: config.issuer.startsWith('https:') });
  const risk = createRiskSignals({
    policy,
    devices: stores.knownDevices,
    limiter,
    cookie: deviceCookie,
    audit: stores.audit,
    notify,
  });
  const accountSessions = createAccountSessions(stores.redis, prefix);
  const newPassword = createNewPasswordStep({
    provider,
    views,
    csrf,
    accounts: stores.accounts,
    sessions: accountSessions,
    audit: stores.audit,
    notify,
    progress,
  });
  const passwordResets = createPasswordResetRouter({
    issuer: config.issuer,
    views,
    csrf,
    accounts: stores.accounts,
    passwordResets: stores.passwordResets,
    sessions: accountSessions,
    audit: stores.audit,
    notify,
    sendNotice: options.sendNotice ?? createNoticeSender(logger, mailOutbox, stores.db),
    resetByEmail: Boolean(config.smtpUrl),
    redis: stores.redis,
    redisKeyPrefix: prefix,
    logger,
    now,
  });
  const factorDeps: FactorDeps = {
    policy,
    reads,
    factors: stores.factors,
    recoveryCodes: stores.recoveryCodes,
    webauthnUsers,
    challenges,
    rp,
    audit: stores.audit,
    attempts,
    notify,
    issuerName: new URL(config.issuer).host,
    now,
  };
  const registry = createFactorRegistry(factorDeps);
  const enrollments = createEnrollmentRegistry(factorDeps);
  const kit = createPageKit(views, csrf);
  const interactions = createInteractionRouter({
    provider,
    policy,
    kit,
    csrf,
    reads,
    registry,
    enrollments,
    factorDeps,
    newPassword,
    attempts,
    audit: stores.audit,
    progress,
    sessionEvents,
    enrolledFactors,
    risk,
    now,
  });
  const account = createAccountRouter({
    provider,
    issuer: config.issuer,
    views,
    csrf,
    policy,
    accounts: stores.accounts,
    factors: stores.factors,
    recoveryCodes: stores.recoveryCodes,
    sessionEvents,
    enrolledFactors,
    audit: stores.audit,
    registry,
    enrollments,
    factorDeps,
    notify,
    sessions: accountSessions,
    devices: stores.knownDevices,
    deviceCookie,
    now,
  });

  const home = new Router();
  home.get('/', (ctx) => {
    ctx.type = 'html';
    ctx.body = views.render('home.njk', { title: 'stepup', issuer: config.issuer });
  });

  provider.use(httpMetrics(metrics));
  // issue #20: values read along with others in one Redis round trip, kept for the request
  provider.use(requestReadsScope());
  provider.use(requestContext(logger));
  provider.use(securityHeaders({ https: config.issuer.startsWith('https:') }));
  provider.use(errorPages(views));
  provider.use(jwtAccessTokenIntrospection({ provider, issuer: config.issuer, jwks, mayIntrospect }));
  const admin = createAdminRouters({ issuer: config.issuer, provider, jwks, stores, providerClients: clients, redisKeyPrefix: prefix, audit: stores.audit, views, csrf, policy, sessionEvents, notify, now });
  const routers = [createHealthRouter(probe), createStaticRouter(views.dir), home, newPassword.router, interactions, account, passwordResets, ...admin];
  // the demo client's callback page exists only for the embedded development default
  if (!config.production && !config.databaseUrl) routers.push(createDemoRouter({ views, issuer: config.issuer, policy, now }));
  provider.use(mountOwnRouters(routers));
  metrics.setRoutes([...routeTemplates(routers), ...OIDC_ROUTE_TEMPLATES]);
  watchProvider(provider, metrics);
  provider.on('server_error', (ctx, err) => {
    // safety net for a store error that reached oidc-provider unwrapped: a JSON answer becomes 503
    // temporarily_unavailable like the rest (the event fires after the body is set)
    if (isStoreUnavailable(err)) {
      logger.warn({ err: { message: err.message }, requestId: ctx.state?.requestId }, 'store unavailable: answered 503');
      if (ctx.body && typeof ctx.body === 'object' && (ctx.body as { error?: string }).error === 'server_error') {
        ctx.status = 503;
        const out = new StoreUnavailable(err);
        ctx.body = { error: out.error, error_description: out.error_description };
      }
      return;
    }
    logger.error({ err, requestId: ctx.state?.requestId }, 'oidc server_error');
  });
  // issue #15: where each session was last used from, for the admin's list of a user's sessions
  provider.on('authorization.success', (ctx) => {
    const session = ctx.oidc.session as { uid?: string; accountId?: string } | undefined;
    if (!session?.uid || !session.accountId) return;
    accountSessions
      .touch(session.uid, { description: describeUserAgent(ctx.get('user-agent')), ip: ctx.ip, lastSeen: now() })
      .catch((err: Error) => logger.warn({ err: { message: err.message } }, 'could not record where a session was used'));
  });
  // logout ends the session: its factor events go with it (a new session has a new uid anyway)
  provider.on('end_session.success', (ctx) => {
    const session = ctx.oidc.session as { uid?: string; destroyed?: boolean } | undefined;
    if (session?.destroyed && session.uid) {
      sessionEvents.clear(session.uid).catch((err: Error) => logger.warn({ err: { message: err.message } }, 'could not clear session events'));
    }
  });

  const email = config.smtpUrl ? createEmailDelivery({ smtpUrl: config.smtpUrl, from: config.smtpFrom, issuer: config.issuer, accounts: stores.accounts, viewsDir: views.dir }) : undefined;
  const deliveries: Partial<Record<OutboxChannel, Delivery>> = {
    ...(email ? { email } : {}),
    ...(config.webhook ? { webhook: createWebhookDelivery({ ...config.webhook, production: config.production }, options.outbox?.clock) } : {}),
  };
  if (config.webhook) logger.info({ webhook: { origin: config.webhook.url.origin, events: config.webhook.events.describe(), allowPrivate: config.webhook.allowPrivate } }, 'audit events go to a webhook');
  const outbox = createOutboxWorker({ outbox: stores.outbox, deliveries, logger, options: options.outbox, onDeliveryFailed: metrics.outbox.deliveryFailed });
  metrics.outbox.depth(() => stores.outbox.depth());
  const stopWaking = stores.outbox.onAdded(() => outbox.wake());
  if (options.outbox?.start !== false) outbox.start();

  return {
    provider,
    policy,
    stores,
    logger,
    outbox,
    callback: provider.callback(),
    metrics,
    managementCallback: createManagementApp({ metrics, probe, logger }),
    async close() {
      stopWaking();
      await outbox.stop();
      email?.close();
      await stores.close();
    },
  };
}
