import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Audit } from '../audit/audit.js';
import type { Notifier } from '../notifications/notifier.js';
import type { Csrf } from '../http/csrf.js';
import type { Views } from '../http/render.js';
import type { Policy } from '../stepup/index.js';
import type { Stores } from '../store/stores.js';
import { createAccountSessions } from '../store/redis/account-sessions.js';
import type { SessionEventsStore } from '../store/redis/session-events.js';
import { createAdminService } from './admin-service.js';
import { apiRoutes, createAdminApiRouter } from './api.routes.js';
import { openApiDocument } from './openapi.js';
import { createAdminUiRouter } from './ui.routes.js';
import { outboxApiRoutes } from './outbox.api.js';
import { deviceApiRoutes } from './devices.api.js';
import { auditDeliveries, mountOutboxPages } from './outbox.routes.js';
import { createAccountReads } from '../store/account-reads.js';
import { createDecisionsRepo } from '../store/decisions.repo.js';
import { decisionApiRoutes } from './decisions.api.js';
import { mountDecisionPages, recentSignIns } from './decisions.routes.js';
import type { DryRunDeps } from './dry-run.js';

export { adminClient, ADMIN_CLIENT_ID } from './internal-client.js';

/** The admin UI (/admin) and admin API (/admin/api), over one admin service (issue #5). */
export interface AdminDeps {
  issuer: string;
  provider: Provider;
  jwks: { keys: object[] };
  stores: Pick<Stores, 'db' | 'accounts' | 'clients' | 'factors' | 'recoveryCodes' | 'redis' | 'outbox' | 'knownDevices'>;
  redisKeyPrefix: string;
  /** the clients repository the provider reads through (cached): admin changes go through it so they drop cached records */
  providerClients?: Stores['clients'];
  audit: Audit;
  views: Views;
  csrf: Csrf;
  policy: Policy;
  sessionEvents: SessionEventsStore;
  notify: Notifier;
  now: () => number;
}

export function createAdminRouters(deps: AdminDeps): Router[] {
  const admin = createAdminService({
    accounts: deps.stores.accounts,
    factors: deps.stores.factors,
    recoveryCodes: deps.stores.recoveryCodes,
    clients: deps.providerClients ?? deps.stores.clients,
    audit: deps.audit,
    sessions: createAccountSessions(deps.stores.redis, deps.redisKeyPrefix),
    notify: deps.notify,
    acrValues: deps.policy.levels.map((l) => l.acr),
  });
  // issue #19: decision traces and the policy dry-run
  const decisions = { decisions: createDecisionsRepo(deps.stores.db), clients: deps.stores.clients, accounts: deps.stores.accounts };
  const reads = createAccountReads(deps.stores.db, deps.stores.accounts);
  const dryRun: DryRunDeps = {
    policy: deps.policy,
    findAccount: (idOrEmail) => (idOrEmail.includes('@') ? deps.stores.accounts.findByEmail(idOrEmail) : deps.stores.accounts.findById(idOrEmail)),
    findClient: (id) => deps.stores.clients.find(id),
    enrolledFactors: (id) => reads.enrolledFactors(undefined, id),
    listAccounts: () => deps.stores.accounts.list(),
    now: deps.now,
  };
  const moreRoutes = [
    ...decisionApiRoutes({ ...decisions, dryRun, userExists: async (id) => Boolean(await deps.stores.accounts.findById(id)) }),
    // issue #17: the outbox (mails, webhook deliveries, dead letters)
    ...outboxApiRoutes({ outbox: deps.stores.outbox, audit: deps.audit }),
    // issue #16: a user's known devices
    ...deviceApiRoutes({ devices: deps.stores.knownDevices, admin, audit: deps.audit }),
  ];
  let document: object | undefined;
  const api = createAdminApiRouter({
    issuer: deps.issuer,
    provider: deps.provider,
    jwks: deps.jwks,
    // uncached on purpose: a deleted or de-scoped admin client loses access at once, on every instance
    clients: deps.stores.clients,
    admin,
    moreRoutes,
    openapi: () => (document ??= openApiDocument(deps.issuer, [...apiRoutes(admin), ...moreRoutes])),
  });
  const ui = createAdminUiRouter({
    provider: deps.provider,
    issuer: deps.issuer,
    views: deps.views,
    csrf: deps.csrf,
    policy: deps.policy,
    accounts: deps.stores.accounts,
    factors: deps.stores.factors,
    sessionEvents: deps.sessionEvents,
    audit: deps.audit,
    admin,
    devices: deps.stores.knownDevices,
    now: deps.now,
    morePages: (router, kit) => {
      mountDecisionPages(decisions)(router, kit);
      mountOutboxPages({ outbox: deps.stores.outbox, audit: deps.audit })(router, kit);
    },
    auditEventExtras: auditDeliveries(deps.stores.outbox),
    userPageExtras: recentSignIns(decisions),
  });
  return [api, ui];
}
