import Router from '@koa/router';
import { stringify } from 'csv-stringify/sync';
import { createLocalJWKSet, type JWK } from 'jose';
import type { Context, Next } from 'koa';
import { koaBody } from 'koa-body';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { introspectJwtAccessToken, isActiveOpaqueAccessToken, publicJwk } from '../oidc/jwt-introspection.js';
import { adminApiResource } from '../oidc/resources.js';
import type { ClientsRepo } from '../store/clients.repo.js';
import { AdminError, auditJson, clientJson, factorJson, userJson, type Actor, type AdminService } from './admin-service.js';
import {
  auditPageOutput,
  auditQuery,
  clientCreateInput,
  clientListOutput,
  clientOutput,
  clientUpdateInput,
  clientWithSecretOutput,
  disableInput,
  factorOutput,
  resetFactorsInput,
  resetOutput,
  revokeOutput,
  totpImportInput,
  userCreateInput,
  userDetailOutput,
  userOutput,
  userPageOutput,
  userQuery,
} from './schemas.js';

/**
 * The admin API (SPEC §5, issue #5): JSON under /admin/api, for service clients holding a JWT access
 * token (RFC 9068) with scope `admin`, obtained with client credentials. Every route is one entry of
 * API_ROUTES; the OpenAPI document (openapi.ts) is generated from the same table and schemas.
 *
 * Authorization (RFC 6750 §3.1, issue #14): no token or one that is not active → 401 `invalid_token`;
 * an active token of this issuer without scope `admin` for this API → 403 `insufficient_scope` (see
 * authenticate). Deleting the client ends its tokens (401); taking its admin scope away ends its
 * access (403), both before the token expires.
 */
export const API_PREFIX = '/admin/api';
export const API_TAGS = ['users', 'factors', 'sessions', 'clients', 'audit', 'decisions', 'policy', 'outbox'] as const;

export interface ApiInput {
  params: Record<string, string>;
  query: unknown;
  body: unknown;
  actor: Actor;
}

export interface ApiResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** also answers text/csv */
  csv?: boolean;
}

export interface ApiRoute {
  method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI path template, relative to /admin/api */
  path: string;
  operationId: string;
  summary: string;
  tag: (typeof API_TAGS)[number];
  query?: z.ZodType;
  body?: z.ZodType;
  responses: Record<number, ApiResponseSpec>;
  handle(ctx: Context, input: ApiInput): Promise<void>;
}

const json = (ctx: Context, status: number, body: unknown) => {
  ctx.status = status;
  ctx.body = body;
};

// issue #15: the emails beside the ids, so a CSV read in a spreadsheet names the people
const AUDIT_CSV_COLUMNS = ['id', 'at', 'type', 'outcome', 'reason', 'actor', 'actor_email', 'subject', 'subject_email', 'client_id', 'ip', 'user_agent', 'request_id', 'details'] as const;

/** CSV cells starting with = + - @ (or tab/CR) are read as formulas by spreadsheets: quote them as text (OWASP CSV injection). */
const csvCell = (v: unknown) => {
  const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
};

export function auditCsv(items: ReturnType<typeof auditJson>[], emails: Map<string, string>): string {
  const email = (id: string | null) => (id ? (emails.get(id) ?? '') : '');
  const row = (e: ReturnType<typeof auditJson>) => ({ ...e, actor_email: email(e.actor), subject_email: email(e.subject) });
  return stringify([[...AUDIT_CSV_COLUMNS], ...items.map(row).map((e) => AUDIT_CSV_COLUMNS.map((c) => csvCell(e[c])))]);
}

/** The filter an audit query (API or UI) asks for. */
export function auditFilterOf(q: z.output<typeof auditQuery>) {
  return {
    subject: q.subject || undefined,
    actor: q.actor || undefined,
    type: q.type || undefined,
    since: q.since ? new Date(q.since) : undefined,
    until: q.until ? new Date(q.until) : undefined,
    before: q.before,
    limit: q.limit,
  };
}

export function apiRoutes(admin: AdminService): ApiRoute[] {
  return [
    {
      method: 'get',
      path: '/users',
      operationId: 'listUsers',
      summary: 'Search users by email, name or id (newest first), paged by offset',
      tag: 'users',
      query: userQuery,
      responses: { 200: { description: 'A page of users', schema: userPageOutput } },
      async handle(ctx, { query }) {
        const q = query as z.output<typeof userQuery>;
        const page = await admin.searchUsers(q.q, q.limit, q.offset);
        json(ctx, 200, { items: page.items.map(userJson), total: page.total, limit: q.limit, offset: q.offset });
      },
    },
    {
      method: 'post',
      path: '/users',
      operationId: 'createUser',
      summary: 'Create a user with a password',
      tag: 'users',
      body: userCreateInput,
      responses: { 201: { description: 'The new user', schema: userOutput }, 409: { description: 'The email is in use' } },
      async handle(ctx, { body, actor }) {
        json(ctx, 201, userJson(await admin.createUser(actor, body as z.output<typeof userCreateInput>, ctx)));
      },
    },
    {
      method: 'get',
      path: '/users/{userId}',
      operationId: 'getUser',
      summary: 'A user with every factor',
      tag: 'users',
      responses: { 200: { description: 'The user', schema: userDetailOutput } },
      async handle(ctx, { params }) {
        const { account, factors, recoveryCodes } = await admin.userDetail(params.userId!);
        json(ctx, 200, { ...userJson(account), factors: factors.map(factorJson), recovery_codes_remaining: recoveryCodes });
      },
    },
    {
      method: 'post',
      path: '/users/{userId}/disable',
      operationId: 'disableUser',
      summary: 'Disable a user: no sign-in, every session and refresh token revoked',
      tag: 'users',
      body: disableInput,
      responses: { 200: { description: 'The user', schema: userOutput } },
      async handle(ctx, { params, body, actor }) {
        json(ctx, 200, userJson(await admin.setDisabled(actor, params.userId!, true, (body as z.output<typeof disableInput>).reason, ctx)));
      },
    },
    {
      method: 'post',
      path: '/users/{userId}/enable',
      operationId: 'enableUser',
      summary: 'Enable a disabled user',
      tag: 'users',
      responses: { 200: { description: 'The user', schema: userOutput } },
      async handle(ctx, { params, actor }) {
        json(ctx, 200, userJson(await admin.setDisabled(actor, params.userId!, false, undefined, ctx)));
      },
    },
    {
      method: 'get',
      path: '/users/{userId}/factors',
      operationId: 'listFactors',
      summary: "A user's factors (TOTP, WebAuthn), pending ones included",
      tag: 'factors',
      responses: { 200: { description: 'The factors', schema: z.object({ items: z.array(factorOutput) }) } },
      async handle(ctx, { params }) {
        json(ctx, 200, { items: (await admin.listFactors(params.userId!)).map(factorJson) });
      },
    },
    {
      method: 'post',
      path: '/users/{userId}/factors/totp',
      operationId: 'importTotp',
      summary: 'Import a TOTP secret (migration from another provider); active at once, sealed at rest',
      tag: 'factors',
      body: totpImportInput,
      responses: { 201: { description: 'The new factor (never the secret)', schema: factorOutput } },
      async handle(ctx, { params, body, actor }) {
        json(ctx, 201, factorJson(await admin.importTotp(actor, params.userId!, body as z.output<typeof totpImportInput>, ctx)));
      },
    },
    {
      method: 'delete',
      path: '/users/{userId}/factors/{factorId}',
      operationId: 'deleteFactor',
      summary: "Remove one of the user's factors; the user's sessions and refresh tokens are revoked",
      tag: 'factors',
      query: z.object({ reason: z.string().max(500).optional() }).strict(),
      responses: { 200: { description: 'What was revoked with it', schema: revokeOutput } },
      async handle(ctx, { params, query, actor }) {
        const { revoked } = await admin.removeFactor(actor, params.userId!, params.factorId!, (query as { reason?: string }).reason, ctx);
        json(ctx, 200, revoked);
      },
    },
    {
      method: 'post',
      path: '/users/{userId}/factors/reset',
      operationId: 'resetFactors',
      summary: 'Remove every factor and recovery code of the user (the password stays), with a reason for the audit trail',
      tag: 'factors',
      body: resetFactorsInput,
      responses: { 200: { description: 'What was removed and revoked', schema: resetOutput } },
      async handle(ctx, { params, body, actor }) {
        json(ctx, 200, await admin.resetFactors(actor, params.userId!, (body as z.output<typeof resetFactorsInput>).reason, ctx));
      },
    },
    {
      method: 'delete',
      path: '/users/{userId}/sessions',
      operationId: 'revokeSessions',
      summary: 'End every session of the user and revoke every refresh token',
      tag: 'sessions',
      responses: { 200: { description: 'How many sessions and grants were revoked', schema: revokeOutput } },
      async handle(ctx, { params, actor }) {
        json(ctx, 200, await admin.revokeSessions(actor, params.userId!, ctx));
      },
    },
    {
      method: 'get',
      path: '/clients',
      operationId: 'listClients',
      summary: 'Registered clients (the built-in ones are not listed)',
      tag: 'clients',
      responses: { 200: { description: 'The clients', schema: clientListOutput } },
      async handle(ctx) {
        json(ctx, 200, { items: (await admin.listClients()).map(clientJson) });
      },
    },
    {
      method: 'post',
      path: '/clients',
      operationId: 'createClient',
      summary: 'Register a client; a confidential client gets a generated secret, shown only in this response',
      tag: 'clients',
      body: clientCreateInput,
      responses: { 201: { description: 'The client, with its secret (once)', schema: clientWithSecretOutput }, 409: { description: 'The client id is in use' } },
      async handle(ctx, { body, actor }) {
        const c = await admin.createClient(actor, body as z.output<typeof clientCreateInput>, ctx);
        json(ctx, 201, { ...clientJson(c), client_secret: c.clientSecret ?? null });
      },
    },
    {
      method: 'get',
      path: '/clients/{clientId}',
      operationId: 'getClient',
      summary: 'A client (never its secret)',
      tag: 'clients',
      responses: { 200: { description: 'The client', schema: clientOutput } },
      async handle(ctx, { params }) {
        json(ctx, 200, clientJson(await admin.getClient(params.clientId!)));
      },
    },
    {
      method: 'put',
      path: '/clients/{clientId}',
      operationId: 'updateClient',
      summary: "Replace a client's settings (redirect URIs, grant types, default_acr_values, minimum_acr, post-logout URIs, scope, name, ID token and UserInfo signature algorithms)",
      tag: 'clients',
      body: clientUpdateInput,
      responses: { 200: { description: 'The client', schema: clientOutput } },
      async handle(ctx, { params, body, actor }) {
        json(ctx, 200, clientJson(await admin.updateClient(actor, params.clientId!, body as z.output<typeof clientUpdateInput>, ctx)));
      },
    },
    {
      method: 'delete',
      path: '/clients/{clientId}',
      operationId: 'deleteClient',
      summary: 'Delete a client',
      tag: 'clients',
      responses: { 204: { description: 'Deleted' } },
      async handle(ctx, { params, actor }) {
        await admin.deleteClient(actor, params.clientId!, ctx);
        ctx.status = 204;
      },
    },
    {
      method: 'post',
      path: '/clients/{clientId}/secret',
      operationId: 'rotateClientSecret',
      summary: 'Rotate a confidential client secret: the new one is shown only in this response, the old one stops working',
      tag: 'clients',
      responses: { 200: { description: 'The client with its new secret', schema: clientWithSecretOutput }, 409: { description: 'A public client has no secret' } },
      async handle(ctx, { params, actor }) {
        const c = await admin.rotateSecret(actor, params.clientId!, ctx);
        json(ctx, 200, { ...clientJson(c), client_secret: c.clientSecret ?? null });
      },
    },
    {
      method: 'get',
      path: '/audit-events',
      operationId: 'listAuditEvents',
      summary: 'Audit events, newest first, filtered by subject, actor, type (or `prefix.*`) and time; JSON or CSV (`format=csv`)',
      tag: 'audit',
      query: auditQuery,
      responses: { 200: { description: 'A page of events', schema: auditPageOutput, csv: true } },
      async handle(ctx, { query }) {
        const q = query as z.output<typeof auditQuery>;
        const events = (await admin.listAudit(auditFilterOf(q))).map(auditJson);
        const nextBefore = events.length === q.limit ? events[events.length - 1]!.id : null;
        if (q.format === 'csv') {
          ctx.status = 200;
          ctx.type = 'text/csv; charset=utf-8';
          ctx.set('Content-Disposition', 'attachment; filename="stepup-audit.csv"');
          if (nextBefore) ctx.set('Link', `<${API_PREFIX}/audit-events?${new URLSearchParams({ ...(ctx.query as Record<string, string>), before: nextBefore })}>; rel="next"`);
          ctx.body = auditCsv(events, await admin.emailsFor(events.flatMap((e) => [e.actor, e.subject]).filter((v): v is string => Boolean(v))));
          return;
        }
        json(ctx, 200, { items: events, next_before: nextBefore });
      },
    },
  ];
}

/** RFC 9457 problem details. */
export function problem(ctx: Context, status: number, title: string, extra: { type?: string; detail?: string; errors?: { path: string; message: string }[] } = {}) {
  ctx.status = status;
  ctx.type = 'application/problem+json';
  ctx.body = { type: extra.type ?? 'about:blank', title, status, ...(extra.detail ? { detail: extra.detail } : {}), ...(extra.errors ? { errors: extra.errors } : {}) };
}

export const VALIDATION_PROBLEM = 'urn:stepup:problem:validation-error';

const issuesOf = (error: z.ZodError) => error.issues.map((i) => ({ path: i.path.map(String).join('/'), message: i.message }));

export interface AdminApiDeps {
  issuer: string;
  provider: Provider;
  jwks: { keys: object[] };
  clients: ClientsRepo;
  admin: AdminService;
  /** routes defined in their own files (issue #19: decisions and the policy dry-run), after apiRoutes() */
  moreRoutes?: ApiRoute[];
  openapi: () => object;
}

export function createAdminApiRouter(deps: AdminApiDeps): Router {
  const router = new Router({ prefix: API_PREFIX });
  const keySet = createLocalJWKSet({ keys: (deps.jwks.keys as JWK[]).map(publicJwk) });
  const audience = adminApiResource(deps.issuer);
  const body = koaBody({ json: true, urlencoded: false, multipart: false, text: false, jsonLimit: '64kb', jsonStrict: true });

  const challenge = (ctx: Context, status: 401 | 403, error: 'invalid_token' | 'insufficient_scope', description: string) => {
    ctx.set('WWW-Authenticate', `Bearer realm="stepup admin API"${status === 401 && error === 'invalid_token' && description === 'missing' ? '' : `, error="${error}", error_description="${description}"`}${status === 403 ? ', scope="admin"' : ''}`);
    problem(ctx, status, status === 401 ? 'Unauthorized' : 'Forbidden', { detail: description === 'missing' ? 'a bearer access token with scope admin is required' : description });
  };

  /**
   * Who is calling: an admin client with a valid token, or undefined after answering 401/403.
   * One rule (RFC 6750 §3.1), decided by what introspection would say of the token: an active token of
   * this issuer that does not grant scope `admin` for this API (an opaque token, a JWT for another
   * resource, a user's token, a token of a client that is no longer an admin client) gets 403
   * `insufficient_scope`; a token that is not active (unknown, expired, tampered, another issuer's,
   * its grant revoked, its client deleted) gets 401 `invalid_token`.
   */
  async function authenticate(ctx: Context): Promise<Actor | undefined> {
    const header = ctx.get('authorization');
    const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
    if (!match) {
      challenge(ctx, 401, 'invalid_token', 'missing');
      return undefined;
    }
    const token = match[1]!;
    const inactive = () => challenge(ctx, 401, 'invalid_token', 'the access token is invalid or expired');
    const lacksAdmin = () => challenge(ctx, 403, 'insufficient_scope', 'this token does not grant scope admin');
    const claims = token.split('.').length === 3 ? await introspectJwtAccessToken({ provider: deps.provider, issuer: deps.issuer, keySet }, token) : undefined;
    if (!claims) {
      if (await isActiveOpaqueAccessToken(deps.provider, token)) lacksAdmin();
      else inactive();
      return undefined;
    }
    const clientId = claims.client_id as string;
    // uncached: a client deleted a moment ago has no active tokens any more, on every instance
    const client = await deps.clients.find(clientId);
    if (!client) {
      inactive();
      return undefined;
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    // client credentials only (SPEC §5): a token issued to a user (sub ≠ client) is not an admin API token
    if (!audiences.includes(audience) || !scopes.includes('admin') || !(client.scope ?? '').split(' ').includes('admin') || claims.sub !== clientId) {
      lacksAdmin();
      return undefined;
    }
    return { actor: `client:${clientId}`, clientId };
  }

  router.use(async (ctx: Context, next: Next) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } catch (err) {
      if (err instanceof AdminError) return problem(ctx, err.status, err.title, err.errors ? { type: VALIDATION_PROBLEM, errors: err.errors } : {});
      // koa-body: malformed JSON or a body over the limit (the client's fault, never a 500)
      const status = (err as { status?: number }).status ?? (err instanceof SyntaxError ? 400 : undefined);
      if (status && status >= 400 && status < 500) return problem(ctx, status, status === 413 ? 'The request body is too large' : 'The request body is not valid JSON');
      throw err;
    }
  });

  router.get('/openapi.json', (ctx) => {
    ctx.body = deps.openapi();
  });

  for (const route of [...apiRoutes(deps.admin), ...(deps.moreRoutes ?? [])]) {
    const koaPath = route.path.replace(/\{(\w+)\}/g, ':$1');
    const handlers = [
      async (ctx: Context, next: Next) => {
        const actor = await authenticate(ctx);
        if (!actor) return;
        ctx.state.adminActor = actor;
        await next();
      },
      ...(route.body ? [body] : []),
      async (ctx: Context) => {
        const query = route.query ? route.query.safeParse(ctx.query) : { success: true as const, data: {} };
        if (!query.success) return problem(ctx, 400, 'The query is not valid', { type: VALIDATION_PROBLEM, errors: issuesOf(query.error) });
        if (!route.query && Object.keys(ctx.query).length) return problem(ctx, 400, 'The query is not valid', { type: VALIDATION_PROBLEM, errors: Object.keys(ctx.query).map((k) => ({ path: k, message: 'unknown parameter' })) });
        const raw = (ctx.request as unknown as { body?: unknown }).body;
        const parsed = route.body ? route.body.safeParse(raw ?? {}) : { success: true as const, data: undefined };
        if (!parsed.success) return problem(ctx, 400, 'The request body is not valid', { type: VALIDATION_PROBLEM, errors: issuesOf(parsed.error) });
        await route.handle(ctx, { params: ctx.params as Record<string, string>, query: query.data, body: parsed.data, actor: ctx.state.adminActor as Actor });
      },
    ];
    router[route.method](koaPath, ...(handlers as never[]));
  }
  // anything else under /admin/api: a problem document, never the HTML error page
  router.all('{/*rest}', async (ctx) => {
    if (!(await authenticate(ctx))) return;
    problem(ctx, 404, 'Not found');
  });
  return router;
}
