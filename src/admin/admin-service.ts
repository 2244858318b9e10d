import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { z } from 'zod';
import type { Audit, AuditEventType } from '../audit/audit.js';
import { hashPassword } from '../factors/password/password.js';
import { DEFAULT_ID_TOKEN_SIGNING_ALG } from '../oidc/signing-keys.js';
import { DuplicateEmailError, type Account, type AccountsRepo } from '../store/accounts.repo.js';
import type { AuditFilter, StoredAuditEvent } from '../store/audit.repo.js';
import { DuplicateClientError, type ClientRecord, type ClientsRepo } from '../store/clients.repo.js';
import type { Factor, FactorsRepo } from '../store/factors.repo.js';
import type { RecoveryCodesRepo } from '../store/recovery-codes.repo.js';
import type { AccountSessions } from '../store/redis/account-sessions.js';
import type { Notifier } from '../notifications/notifier.js';
import {
  clientRuleViolations,
  RESERVED_CLIENT_IDS,
  type auditEventOutput,
  type clientCreateInput,
  type clientOutput,
  type clientUpdateInput,
  type factorOutput,
  type totpImportInput,
  type userCreateInput,
  type userOutput,
} from './schemas.js';

/**
 * The admin operations (issue #5), one place for the admin UI and the admin API: each checks its
 * target exists, does the change, revokes what must be revoked, and writes the audit event with the
 * admin (or the API client) as actor.
 */
export interface Actor {
  /** the admin's account id, or `client:<client_id>` for an admin API client */
  actor: string;
  /** the client the request came through (`stepup-admin` for the UI) */
  clientId: string;
  /** the admin's own session, kept when the admin acts on their own account */
  sessionUid?: string;
  accountId?: string;
}

export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly errors?: { path: string; message: string }[],
  ) {
    super(title);
  }
}

const notFound = (what: string) => new AdminError(404, `${what} not found`);

export interface AdminServiceDeps {
  accounts: AccountsRepo;
  factors: FactorsRepo;
  recoveryCodes: RecoveryCodesRepo;
  /** the stored clients (without the built-in ones) */
  clients: ClientsRepo;
  audit: Audit;
  sessions: AccountSessions;
  notify: Notifier;
  acrValues: string[];
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export const userJson = (a: Account): z.output<typeof userOutput> => ({
  id: a.id,
  email: a.email,
  name: a.name,
  admin: a.isAdmin,
  disabled: a.disabledAt !== null,
  disabled_at: iso(a.disabledAt),
  created_at: iso(a.createdAt)!,
});

export const factorJson = (f: Factor): z.output<typeof factorOutput> => ({
  id: f.id,
  type: f.type,
  label: f.label,
  status: f.status,
  created_at: iso(f.createdAt)!,
  confirmed_at: iso(f.confirmedAt),
  last_used_at: iso(f.lastUsedAt),
  authenticator_model: f.webauthn?.authenticatorModel ?? null,
  aaguid: f.webauthn?.aaguid ?? null,
  backup_eligible: f.webauthn ? f.webauthn.backupEligible : null,
  backup_state: f.webauthn ? f.webauthn.backupState : null,
  user_verifying: f.webauthn ? f.webauthn.userVerifying : null,
});

export const clientJson = (c: ClientRecord): z.output<typeof clientOutput> => ({
  client_id: c.clientId,
  client_name: c.clientName ?? null,
  client_type: c.clientSecret ? 'confidential' : 'public',
  redirect_uris: c.redirectUris,
  post_logout_redirect_uris: c.postLogoutRedirectUris,
  grant_types: c.grantTypes,
  scope: c.scope ?? null,
  default_acr_values: c.defaultAcrValues,
  minimum_acr: c.minimumAcr ?? null,
  id_token_signed_response_alg: c.idTokenSignedResponseAlg ?? DEFAULT_ID_TOKEN_SIGNING_ALG,
  userinfo_signed_response_alg: c.userinfoSignedResponseAlg ?? null,
});

export const auditJson = (e: StoredAuditEvent): z.output<typeof auditEventOutput> => ({
  id: e.id,
  at: iso(e.at)!,
  type: e.type,
  outcome: e.outcome,
  reason: e.reason ?? null,
  actor: e.actor ?? null,
  subject: e.subject ?? null,
  client_id: e.clientId ?? null,
  ip: e.ip ?? null,
  user_agent: e.userAgent ?? null,
  request_id: e.requestId ?? null,
  details: e.details ?? {},
});

/** 256 random bits: enough for client_secret_jwt (HS256) too. */
const newClientSecret = () => randomBytes(32).toString('base64url');

/** A client's editable fields from the admin input (create and edit share them; empty strings mean unset). */
const clientFields = (input: z.output<typeof clientUpdateInput>): Omit<ClientRecord, 'clientId' | 'clientSecret'> => ({
  clientName: input.client_name || undefined,
  redirectUris: input.redirect_uris,
  postLogoutRedirectUris: input.post_logout_redirect_uris,
  grantTypes: input.grant_types,
  scope: input.scope || undefined,
  defaultAcrValues: input.default_acr_values,
  minimumAcr: input.minimum_acr || undefined,
  idTokenSignedResponseAlg: input.id_token_signed_response_alg,
  userinfoSignedResponseAlg: input.userinfo_signed_response_alg,
});

export function createAdminService(deps: AdminServiceDeps) {
  const record = (by: Actor, ctx: Context | undefined, type: AuditEventType, subject: string, details: Record<string, unknown> = {}, reason?: string) =>
    deps.audit.record({ type, outcome: 'success', actor: by.actor, clientId: by.clientId, subject, reason, details }, ctx);

  const user = async (id: string) => {
    const account = await deps.accounts.findById(id);
    if (!account) throw notFound('user');
    return account;
  };
  /** The admin's own session survives a change to their own account. */
  const revoke = (accountId: string, by: Actor) =>
    deps.sessions.revokeAccountSessions(accountId, by.accountId === accountId && by.sessionUid ? { exceptSessionUid: by.sessionUid } : {});

  const storedClient = async (clientId: string) => {
    const c = RESERVED_CLIENT_ID_CHECK(clientId) ? undefined : await deps.clients.find(clientId);
    if (!c) throw notFound('client');
    return c;
  };
  const checkClient = (settings: Parameters<typeof clientRuleViolations>[0], confidential: boolean) => {
    const violations = clientRuleViolations(settings, confidential, deps.acrValues);
    if (violations.length) throw new AdminError(400, 'The client settings are not valid', violations);
  };

  return {
    searchUsers: (q: string | undefined, limit: number, offset: number) => deps.accounts.search({ q, limit, offset }),

    /** A user, or 404: every per-user route starts here, so another user's factor id finds nothing. */
    getUser: user,

    async userDetail(id: string) {
      const account = await user(id);
      const [factors, recoveryCodes] = await Promise.all([deps.factors.listForAccount(id, { includePending: true }), deps.recoveryCodes.remaining(id)]);
      return { account, factors, recoveryCodes };
    },

    async createUser(by: Actor, input: z.output<typeof userCreateInput>, ctx?: Context) {
      let account: Account;
      try {
        account = await deps.accounts.create({ email: input.email, name: input.name || undefined, passwordHash: await hashPassword(input.password), isAdmin: input.admin });
      } catch (err) {
        if (err instanceof DuplicateEmailError) throw new AdminError(409, 'An account with that email exists', [{ path: 'email', message: 'already in use' }]);
        throw err;
      }
      await record(by, ctx, 'admin.user.create', account.id, { admin: input.admin });
      return account;
    },

    /** Disabling also ends every session and refresh token of the account. */
    async setDisabled(by: Actor, id: string, disabled: boolean, reason: string | undefined, ctx?: Context) {
      await user(id);
      // an admin locking themselves out is never what was meant
      if (disabled && by.accountId === id) throw new AdminError(409, 'You cannot disable your own account');
      // issue #17: the person is told their account was disabled (in the same transaction)
      const account = (await deps.accounts.setDisabled(id, disabled, disabled ? deps.notify.within(ctx, { kind: 'account_disabled', accountId: id }) : undefined))!;
      const revoked = disabled ? await revoke(id, by) : undefined;
      await record(by, ctx, disabled ? 'admin.user.disable' : 'admin.user.enable', id, revoked ? { revoked } : {}, reason || undefined);
      return account;
    },

    async listFactors(id: string) {
      await user(id);
      return deps.factors.listForAccount(id, { includePending: true });
    },

    /** SPEC §4: removal is audited, notified, and ends the user's sessions (those holding the factor's level). */
    async removeFactor(by: Actor, userId: string, factorId: string, reason: string | undefined, ctx?: Context) {
      await user(userId);
      const factor = (await deps.factors.listForAccount(userId, { includePending: true })).find((f) => f.id === factorId);
      if (!factor) throw notFound('factor');
      const notice = deps.notify.within(ctx, { kind: 'factor_removed', accountId: userId, factor: { id: factor.id, type: factor.type, label: factor.label }, by: 'admin' });
      if (!(await deps.factors.remove(factor.id, userId, notice))) throw notFound('factor');
      const revoked = await revoke(userId, by);
      await record(by, ctx, 'admin.factor.remove', userId, { factorId: factor.id, type: factor.type, label: factor.label, revoked }, reason || undefined);
      return { factor, revoked };
    },

    /** Every factor and recovery code goes; the user keeps the password (a lost phone). */
    async resetFactors(by: Actor, userId: string, reason: string, ctx?: Context) {
      await user(userId);
      const { factors, recoveryCodes } = await deps.factors.resetSecondFactors(userId, deps.notify.within<{ factors: number; recoveryCodes: number }>(ctx, (removed) => ({ kind: 'factors_reset', accountId: userId, ...removed })));
      const revoked = await revoke(userId, by);
      await record(by, ctx, 'admin.factors.reset', userId, { factors, recoveryCodes, revoked }, reason);
      return { factors, recovery_codes: recoveryCodes, ...revoked };
    },

    /** Emails of account ids (audit exports, issue #15). */
    emailsFor: (ids: string[]) => deps.accounts.emailsFor(ids),

    /** The user's live sessions (issue #15): where from, since when, last seen. */
    async listSessions(userId: string) {
      await user(userId);
      return deps.sessions.list(userId);
    },

    async endSession(by: Actor, userId: string, sessionUid: string, ctx?: Context) {
      await user(userId);
      if (!(await deps.sessions.end(userId, sessionUid))) throw notFound('session');
      await record(by, ctx, 'admin.session.end', userId, { sessionUid });
    },

    /** Issue #15: the next sign-in with the password asks for a new one first. Sessions and factors stay. */
    async requirePasswordChange(by: Actor, userId: string, required: boolean, ctx?: Context) {
      await user(userId);
      await deps.accounts.setPasswordChangeRequired(userId, required);
      await record(by, ctx, 'admin.user.require_password_change', userId, { required });
    },

    /**
     * Issue #15, the reset without email: a temporary password the user must change at the next
     * sign-in. Every session ends; second factors stay (a reset never bypasses them).
     */
    async setTemporaryPassword(by: Actor, userId: string, password: string, reason: string | undefined, ctx?: Context) {
      await user(userId);
      await deps.accounts.setPassword(userId, await hashPassword(password), { changeRequired: true }, deps.notify.within(ctx, { kind: 'temporary_password_set', accountId: userId }));
      const revoked = await revoke(userId, by);
      await record(by, ctx, 'admin.user.set_password', userId, { revoked, changeRequired: true }, reason || undefined);
      return revoked;
    },

    async revokeSessions(by: Actor, userId: string, ctx?: Context) {
      await user(userId);
      const revoked = await revoke(userId, by);
      await record(by, ctx, 'admin.sessions.revoke', userId, { revoked });
      return revoked;
    },

    async importTotp(by: Actor, userId: string, input: z.output<typeof totpImportInput>, ctx?: Context) {
      await user(userId);
      const factor = await deps.factors.importTotp(userId, input.label, input.secret, deps.notify.within<Factor>(ctx, (f) => ({ kind: 'admin_added_totp', accountId: userId, factor: { id: f.id, type: f.type, label: f.label } })));
      await record(by, ctx, 'admin.factor.import_totp', userId, { factorId: factor.id, type: 'totp' });
      return factor;
    },

    listClients: () => deps.clients.list(),
    getClient: storedClient,

    async createClient(by: Actor, input: z.output<typeof clientCreateInput>, ctx?: Context) {
      checkClient(input, input.confidential);
      const c: ClientRecord = {
        clientId: input.client_id,
        clientSecret: input.confidential ? newClientSecret() : undefined,
        ...clientFields(input),
      };
      try {
        await deps.clients.create(c);
      } catch (err) {
        if (err instanceof DuplicateClientError) throw new AdminError(409, 'A client with that id exists', [{ path: 'client_id', message: 'already in use' }]);
        throw err;
      }
      await record(by, ctx, 'admin.client.create', `client:${c.clientId}`, { clientId: c.clientId, confidential: input.confidential });
      return c;
    },

    async updateClient(by: Actor, clientId: string, input: z.output<typeof clientUpdateInput>, ctx?: Context) {
      const existing = await storedClient(clientId);
      checkClient(input, Boolean(existing.clientSecret));
      const updated = await deps.clients.update(clientId, clientFields(input));
      if (!updated) throw notFound('client');
      await record(by, ctx, 'admin.client.update', `client:${clientId}`, { clientId });
      return updated;
    },

    /** The new secret is returned once; the old one stops working at once. */
    async rotateSecret(by: Actor, clientId: string, ctx?: Context) {
      const existing = await storedClient(clientId);
      if (!existing.clientSecret) throw new AdminError(409, 'A public client has no secret to rotate');
      const secret = newClientSecret();
      await deps.clients.setSecret(clientId, secret);
      await record(by, ctx, 'admin.client.rotate_secret', `client:${clientId}`, { clientId });
      return { ...existing, clientSecret: secret };
    },

    async deleteClient(by: Actor, clientId: string, ctx?: Context) {
      await storedClient(clientId);
      if (!(await deps.clients.remove(clientId))) throw notFound('client');
      await record(by, ctx, 'admin.client.delete', `client:${clientId}`, { clientId });
    },

    listAudit: (filter: AuditFilter) => deps.audit.list(filter),
  };
}

/** Built-in clients are not stored ones; ids no client can have (too long, NUL) find nothing without a query. */
const RESERVED_CLIENT_ID_CHECK = (id: string) => RESERVED_CLIENT_IDS.includes(id) || id.length > 200 || id.includes('\u0000');

export type AdminService = ReturnType<typeof createAdminService>;
