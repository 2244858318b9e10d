import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import * as oidc from 'openid-client';
import { newTotpSecret, totpCodeAt } from '../src/factors/totp/totp.js';
import { adminApiToken, api, createAccountWithTotp } from './support/admin.js';
import { storeAuditRow } from './support/audit.js';
import { Browser } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createConfidentialClient, discover, finish, isCallback, passwordLogin, startAuthorization } from './support/rp.js';
import { stepOf } from './support/steps.js';
import { startServer, type RunningServer } from './support/server.js';

/** The admin API (issue #5) against the real Postgres and Redis, as a service client would call it. */
const iso = newIsolation();
let server: RunningServer;
let token: string;
let adminClientId: string;

beforeAll(async () => {
  server = await startServer(iso);
  ({ token, clientId: adminClientId } = await adminApiToken(server.app, server.issuer));
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

type OpenApi = { paths: Record<string, Record<string, { operationId: string; parameters?: { name: string; in: string }[]; requestBody?: unknown; responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };

describe('OpenAPI document', () => {
  it('is served without a token and validates as OpenAPI 3.1', async () => {
    const res = await fetch(`${server.issuer}/admin/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string };
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('every route in it answers as documented (status and body schema), and refuses missing or non-admin tokens', async () => {
    const doc = (await (await fetch(`${server.issuer}/admin/api/openapi.json`)).json()) as OpenApi;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const validateProblem = ajv.compile((doc as unknown as { components: { schemas: { Problem: object } } }).components.schemas.Problem);
    const other = await adminApiToken(server.app, server.issuer, 'reports', 'https://reports.example');
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
    expect(operations.length).toBeGreaterThanOrEqual(17);

    /** Fresh targets for each call, so destructive routes never disturb another. */
    const fixtures = async () => {
      const user = await createAccountWithTotp(server.app);
      const factor = (await server.app.stores.factors.listForAccount(user.id))[0]!;
      const client = await createConfidentialClient(server.app);
      // issue #17: a dead webhook delivery, for the outbox retry route
      const entryId = randomUUID();
      await server.app.stores.db('outbox').insert({ id: entryId, channel: 'webhook', kind: 'admin.user.disable', payload: '{}', status: 'dead', attempts: 12, last_error: 'HTTP 500' });
      // issue #16: a known device, for the devices routes
      await server.app.stores.knownDevices.remember({ accountId: user.id, deviceDigest: randomUUID(), description: 'Firefox 140 on Linux', network: '203.0.113.0/24', at: Math.floor(Date.now() / 1000) });
      const deviceId = (await server.app.stores.knownDevices.list(user.id))[0]!.id;
      return { userId: user.id, factorId: factor.id, clientId: client.clientId, entryId, deviceId };
    };
    const bodies: Record<string, (f: Awaited<ReturnType<typeof fixtures>>) => unknown> = {
      createUser: () => ({ email: `new-${Math.random().toString(36).slice(2)}@example.com`, name: 'New', password: 'a long enough password' }),
      disableUser: () => ({ reason: 'compromised' }),
      importTotp: () => ({ secret: newTotpSecret(), label: 'Migrated' }),
      resetFactors: () => ({ reason: 'lost phone' }),
      createClient: () => ({ client_id: `c-${Math.random().toString(36).slice(2)}`, redirect_uris: ['https://app.example/cb'] }),
      updateClient: () => ({ redirect_uris: ['https://app.example/cb2'], default_acr_values: ['aal2'], minimum_acr: 'aal1' }),
      explainPolicy: (f) => ({ user: f.userId, client_id: f.clientId, acr_values: 'aal2', session: 'password@-1m' }),
    };

    for (const { path, method, op } of operations) {
      const f = await fixtures();
      const url = path.replace(/\{(\w+)\}/g, (_m, name: string) => (f as Record<string, string>)[name]!);
      const body = op.requestBody ? (bodies[op.operationId]?.(f) ?? {}) : undefined;
      const res = await api(server.issuer, token, method.toUpperCase(), url, body);
      const documented = op.responses[String(res.status)];
      expect({ op: op.operationId, status: res.status, documented: Boolean(documented), body: res.text.slice(0, 300) }).toMatchObject({ documented: true });
      expect(res.status).toBeLessThan(300);
      const schema = documented!.content?.['application/json']?.schema;
      if (schema) {
        const validate = ajv.compile(schema);
        expect({ op: op.operationId, valid: validate(res.json), errors: validate.errors }).toMatchObject({ valid: true });
      } else {
        expect(res.text).toBe('');
      }
      // the same route without a token, and with a token that does not grant scope admin
      const g = await fixtures();
      const url2 = path.replace(/\{(\w+)\}/g, (_m, name: string) => (g as Record<string, string>)[name]!);
      const body2 = op.requestBody ? (bodies[op.operationId]?.(g) ?? {}) : undefined;
      const anonymous = await api(server.issuer, undefined, method.toUpperCase(), url2, body2);
      expect({ op: op.operationId, status: anonymous.status }).toEqual({ op: op.operationId, status: 401 });
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(op.responses['401']).toBeDefined();
      // documented errors answer with the documented problem document
      const checkProblem = (res: Awaited<ReturnType<typeof api>>, status: number) => {
        expect({ op: op.operationId, status: res.status, documented: Boolean(op.responses[String(status)]?.content?.['application/problem+json']) }).toEqual({ op: op.operationId, status, documented: true });
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect({ op: op.operationId, valid: validateProblem(res.json), errors: validateProblem.errors }).toMatchObject({ valid: true });
      };
      if (op.requestBody) checkProblem(await api(server.issuer, token, method.toUpperCase(), url2, { unexpected: true }), 400);
      if (path.includes('{')) {
        const missing = path.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'clientId' ? 'no-such-client' : '00000000-0000-4000-8000-000000000000'));
        checkProblem(await api(server.issuer, token, method.toUpperCase(), missing, body2), 404);
      }
      const forbidden = await api(server.issuer, other.token, method.toUpperCase(), url2, body2);
      expect({ op: op.operationId, status: forbidden.status }).toEqual({ op: op.operationId, status: 403 });
      expect(forbidden.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(op.responses['403']).toBeDefined();
    }
  }, 120_000);
});

describe('authorization', () => {
  it('401 for a missing, malformed or forged token; 403 for a user access token, 401 for a deleted admin client', async () => {
    expect((await api(server.issuer, undefined, 'GET', '/users')).status).toBe(401);
    expect((await api(server.issuer, 'not-a-token', 'GET', '/users')).status).toBe(401);
    const [h, p] = token.split('.');
    expect((await api(server.issuer, `${h}.${p}.${'A'.repeat(86)}`, 'GET', '/users')).status).toBe(401);

    // a user's (opaque) access token from the authorization code flow
    const user = await createAccountWithTotp(server.app);
    const rp = await createConfidentialClient(server.app);
    const cfg = await discover(server.issuer, rp.clientId, rp.clientSecret);
    const started = await startAuthorization(cfg);
    const cb = await passwordLogin(new Browser(server.issuer), started, user.email, user.password);
    expect(isCallback(cb)).toBe(true);
    const tokens = await finish(cfg, started, cb.url);
    const res = await api(server.issuer, tokens.access_token, 'GET', '/users');
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/insufficient_scope/);

    // unknown routes under the API answer as the API does, never with an HTML page
    expect((await api(server.issuer, undefined, 'GET', '/nope')).status).toBe(401);
    const unknown = await api(server.issuer, token, 'GET', '/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/problem\+json/);

    const doomed = await adminApiToken(server.app, server.issuer);
    expect((await api(server.issuer, doomed.token, 'GET', '/users')).status).toBe(200);
    await server.app.stores.clients.remove(doomed.clientId);
    // issue #14: a deleted client's tokens are no longer active (introspection says active: false): 401, not 403
    expect((await api(server.issuer, doomed.token, 'GET', '/users')).status).toBe(401);
  });
});

describe('users', () => {
  it('searches by email, name and id, with paging', async () => {
    const tag = Math.random().toString(36).slice(2, 8);
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await createAccountWithTotp(server.app, { email: `${tag}-${i}@example.com`, name: `Person ${tag.toUpperCase()} ${i}` }));
    const byEmail = await api(server.issuer, token, 'GET', `/users?q=${tag}&limit=2`);
    expect(byEmail.status).toBe(200);
    expect(byEmail.json.total).toBe(5);
    expect(byEmail.json.items).toHaveLength(2);
    const page3 = await api(server.issuer, token, 'GET', `/users?q=${tag}&limit=2&offset=4`);
    expect(page3.json.items).toHaveLength(1);
    const all = new Set([...byEmail.json.items, ...(await api(server.issuer, token, 'GET', `/users?q=${tag}&limit=2&offset=2`)).json.items, ...page3.json.items].map((u: { id: string }) => u.id));
    expect(all.size).toBe(5);
    expect((await api(server.issuer, token, 'GET', `/users?q=person%20${tag}`)).json.total).toBe(5);
    expect((await api(server.issuer, token, 'GET', `/users?q=${made[2]!.id}`)).json.items.map((u: { id: string }) => u.id)).toEqual([made[2]!.id]);
    // LIKE wildcards are literal
    expect((await api(server.issuer, token, 'GET', '/users?q=%25')).json.total).toBe(0);
  });

  it('answers validation errors as RFC 9457 problem details', async () => {
    const res = await api(server.issuer, token, 'POST', '/users', { email: 'nope', password: 'short', extra: 1 });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json).toMatchObject({ type: 'urn:stepup:problem:validation-error', status: 400, title: expect.any(String) });
    expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['email', 'password']));
    const query = await api(server.issuer, token, 'GET', '/users?limit=0');
    expect(query.status).toBe(400);
    expect(query.json.errors[0].path).toBe('limit');
    const broken = await fetch(`${server.issuer}/admin/api/users`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"email":' });
    expect(broken.status).toBe(400);
    expect(broken.headers.get('content-type')).toMatch(/problem\+json/);
    const rules = await api(server.issuer, token, 'POST', '/clients', { client_id: 'spa', confidential: false, grant_types: ['client_credentials'], minimum_acr: 'nope' });
    expect(rules.status).toBe(400);
    expect(rules.json.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['grant_types', 'minimum_acr']));
    expect((await api(server.issuer, token, 'POST', '/clients', { client_id: 'stepup-admin', redirect_uris: ['https://x.example/cb'] })).status).toBe(400);
  });

  it('creates, disables (no sign-in, sessions revoked) and enables a user; audited with the client as actor', async () => {
    const created = await api(server.issuer, token, 'POST', '/users', { email: 'Dora@Example.com', name: 'Dora', password: 'a long enough password' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ email: 'dora@example.com', admin: false, disabled: false });
    expect((await api(server.issuer, token, 'POST', '/users', { email: 'dora@example.com', password: 'a long enough password' })).status).toBe(409);

    const rp = await createConfidentialClient(server.app);
    const cfg = await discover(server.issuer, rp.clientId, rp.clientSecret);
    const browser = new Browser(server.issuer);
    const started = await startAuthorization(cfg);
    const tokens = await finish(cfg, started, (await passwordLogin(browser, started, 'dora@example.com', 'a long enough password')).url);
    expect(tokens.refresh_token).toBeDefined();

    const disabled = await api(server.issuer, token, 'POST', `/users/${created.json.id}/disable`, { reason: 'compromised laptop' });
    expect(disabled.json).toMatchObject({ disabled: true });
    await expect(oidc.refreshTokenGrant(cfg, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const again = await startAuthorization(cfg);
    const page = await passwordLogin(new Browser(server.issuer), again, 'dora@example.com', 'a long enough password');
    expect(isCallback(page)).toBe(false); // refused: the login page again

    expect((await api(server.issuer, token, 'POST', `/users/${created.json.id}/enable`)).json).toMatchObject({ disabled: false });
    const events = await api(server.issuer, token, 'GET', `/audit-events?subject=${created.json.id}&type=admin.*`);
    expect(events.json.items.map((e: { type: string }) => e.type)).toEqual(['admin.user.enable', 'admin.user.disable', 'admin.user.create']);
    expect(events.json.items[1]).toMatchObject({ actor: `client:${adminClientId}`, client_id: adminClientId, reason: 'compromised laptop' });
  });
});

describe('factors and sessions', () => {
  it("removing a factor: the user's next aal2 request cannot use it, and their refresh tokens are revoked", async () => {
    const user = await createAccountWithTotp(server.app);
    const rp = await createConfidentialClient(server.app);
    const cfg = await discover(server.issuer, rp.clientId, rp.clientSecret);
    const browser = new Browser(server.issuer);
    const started = await startAuthorization(cfg, { acr_values: 'aal2' });
    let page = await passwordLogin(browser, started, user.email, user.password);
    page = await browser.submit(page, '/totp', { code: await user.totp.code() });
    const tokens = await finish(cfg, started, page.url);
    expect(tokens.claims()!.acr).toBe('aal2');

    const listed = await api(server.issuer, token, 'GET', `/users/${user.id}/factors`);
    const factorId = listed.json.items[0].id;
    const removed = await api(server.issuer, token, 'DELETE', `/users/${user.id}/factors/${factorId}?reason=lost%20phone`);
    expect(removed.status).toBe(200);
    expect(removed.json).toMatchObject({ sessions: 1, grants: 1 });
    await expect(oidc.refreshTokenGrant(cfg, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    // the same browser asks for aal2 again: signed out (the password page first), and the removed
    // authenticator app is not offered: the account has no second factor left, so enrollment starts
    const next = await startAuthorization(cfg, { acr_values: 'aal2' });
    const first = await browser.follow(next.url.toString());
    expect(first.html).toContain('name="password"');
    const login = await browser.submit(first, '/password', { email: user.email, password: user.password });
    expect(stepOf(login)).toBe('enroll_choice');
    expect(login.html).toContain('data-choice="totp"');
    expect((await api(server.issuer, token, 'DELETE', `/users/${user.id}/factors/${factorId}`)).status).toBe(404);
  });

  it("one user's factor id under another user's URL finds nothing and changes nothing", async () => {
    const alice = await createAccountWithTotp(server.app);
    const bob = await createAccountWithTotp(server.app);
    const bobFactor = (await server.app.stores.factors.listForAccount(bob.id))[0]!;
    const res = await api(server.issuer, token, 'DELETE', `/users/${alice.id}/factors/${bobFactor.id}`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(await server.app.stores.factors.listForAccount(bob.id)).toHaveLength(1);
    expect(await server.app.stores.factors.listForAccount(alice.id)).toHaveLength(1);
    expect((await api(server.issuer, token, 'GET', '/users/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await api(server.issuer, token, 'GET', '/users/not-a-uuid/factors')).status).toBe(404);
  });

  it('imports a TOTP secret: sealed at rest, and the user steps up with a code from it', async () => {
    const user = await createAccountWithTotp(server.app);
    await server.app.stores.factors.removeAll(user.id);
    const secret = newTotpSecret();
    const imported = await api(server.issuer, token, 'POST', `/users/${user.id}/factors/totp`, { secret: secret.toLowerCase().replace(/(.{4})/g, '$1 '), label: 'From the old IdP' });
    expect(imported.status).toBe(201);
    expect(imported.text).not.toContain(secret);
    const row = await server.app.stores.db('factors').where({ id: imported.json.id }).first();
    expect(row.secret_sealed).not.toContain(secret);
    expect((await api(server.issuer, token, 'POST', `/users/${user.id}/factors/totp`, { secret: 'AAAA' })).status).toBe(400);

    const rp = await createConfidentialClient(server.app);
    const cfg = await discover(server.issuer, rp.clientId, rp.clientSecret);
    const browser = new Browser(server.issuer);
    const started = await startAuthorization(cfg, { acr_values: 'aal2' });
    let page = await passwordLogin(browser, started, user.email, user.password);
    page = await browser.submit(page, '/totp', { code: await totpCodeAt(secret, Math.floor(Date.now() / 1000)) });
    expect((await finish(cfg, started, page.url)).claims()!.acr).toBe('aal2');
  });

  it('resets every factor with a reason; the reason is in the audit trail', async () => {
    const user = await createAccountWithTotp(server.app);
    expect((await api(server.issuer, token, 'POST', `/users/${user.id}/factors/reset`, {})).status).toBe(400);
    const res = await api(server.issuer, token, 'POST', `/users/${user.id}/factors/reset`, { reason: 'phone stolen, ticket 42' });
    expect(res.json).toMatchObject({ factors: 1 });
    expect(await server.app.stores.factors.listForAccount(user.id)).toHaveLength(0);
    const events = await api(server.issuer, token, 'GET', `/audit-events?subject=${user.id}&type=admin.factors.reset`);
    expect(events.json.items[0]).toMatchObject({ reason: 'phone stolen, ticket 42', actor: `client:${adminClientId}` });
  });
});

describe('clients', () => {
  it('creates (secret once), reads (no secret), edits, rotates and deletes a client', async () => {
    const created = await api(server.issuer, token, 'POST', '/clients', { client_id: 'payroll', client_name: 'Payroll', redirect_uris: ['https://payroll.example/cb'], default_acr_values: ['aal2'], minimum_acr: 'aal1' });
    expect(created.status).toBe(201);
    const secret = created.json.client_secret as string;
    expect(secret.length).toBeGreaterThanOrEqual(43);
    const read = await api(server.issuer, token, 'GET', '/clients/payroll');
    expect(read.json).toMatchObject({ client_id: 'payroll', client_type: 'confidential', minimum_acr: 'aal1' });
    expect(read.text).not.toContain(secret);
    expect((await api(server.issuer, token, 'GET', '/clients')).text).not.toContain(secret);
    const edited = await api(server.issuer, token, 'PUT', '/clients/payroll', { redirect_uris: ['https://payroll.example/cb2'], post_logout_redirect_uris: ['https://payroll.example/bye'], minimum_acr: 'aal2' });
    expect(edited.json).toMatchObject({ redirect_uris: ['https://payroll.example/cb2'], minimum_acr: 'aal2', default_acr_values: [] });
    const rotated = await api(server.issuer, token, 'POST', '/clients/payroll/secret');
    expect(rotated.json.client_secret).not.toBe(secret);
    expect((await server.app.stores.clients.find('payroll'))!.clientSecret).toBe(rotated.json.client_secret);
    expect((await api(server.issuer, token, 'DELETE', '/clients/payroll')).status).toBe(204);
    expect((await api(server.issuer, token, 'GET', '/clients/payroll')).status).toBe(404);
    expect((await api(server.issuer, token, 'DELETE', '/clients/stepup-admin')).status).toBe(404);
    const types = (await api(server.issuer, token, 'GET', '/audit-events?subject=client:payroll')).json.items.map((e: { type: string }) => e.type);
    expect(types).toEqual(['admin.client.delete', 'admin.client.rotate_secret', 'admin.client.update', 'admin.client.create']);
  });
});

describe('client secret rotation', () => {
  it('the old secret stops working at the token endpoint at once; the new one works', async () => {
    const created = await api(server.issuer, token, 'POST', '/clients', { client_id: `svc-${Date.now()}`, grant_types: ['client_credentials'], scope: 'admin' });
    expect(created.status).toBe(201);
    const id = created.json.client_id as string;
    const oldCfg = await discover(server.issuer, id, created.json.client_secret);
    await expect(oidc.clientCredentialsGrant(oldCfg, { scope: 'admin' })).resolves.toHaveProperty('access_token');
    const rotated = await api(server.issuer, token, 'POST', `/clients/${id}/secret`);
    await expect(oidc.clientCredentialsGrant(oldCfg, { scope: 'admin' })).rejects.toMatchObject({ status: 401 }); // invalid_client
    const newCfg = await discover(server.issuer, id, rotated.json.client_secret);
    const fresh = await oidc.clientCredentialsGrant(newCfg, { scope: 'admin' });
    // a client made an admin client through the API can use the API
    expect((await api(server.issuer, fresh.access_token, 'GET', '/clients')).status).toBe(200);
  });
});

describe('audit events', () => {
  it('filters by type prefix and time, pages with a cursor, and exports CSV (formula cells neutralised)', async () => {
    const user = await createAccountWithTotp(server.app, { name: '=HYPERLINK("x")' });
    await storeAuditRow(server.app, { type: 'test.one', outcome: 'info', subject: user.id, reason: '=cmd|x' });
    await storeAuditRow(server.app, { type: 'test.two', outcome: 'info', subject: user.id });
    await storeAuditRow(server.app, { type: 'other', outcome: 'info', subject: user.id });
    const page1 = await api(server.issuer, token, 'GET', `/audit-events?subject=${user.id}&type=test.*&limit=1`);
    expect(page1.json.items.map((e: { type: string }) => e.type)).toEqual(['test.two']);
    const page2 = await api(server.issuer, token, 'GET', `/audit-events?subject=${user.id}&type=test.*&limit=1&before=${page1.json.next_before}`);
    expect(page2.json.items.map((e: { type: string }) => e.type)).toEqual(['test.one']);
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await api(server.issuer, token, 'GET', `/audit-events?subject=${user.id}&since=${future}`)).json.items).toEqual([]);
    expect((await api(server.issuer, token, 'GET', `/audit-events?subject=${user.id}&until=${future}`)).json.items).toHaveLength(3);
    const csv = await api(server.issuer, token, 'GET', `/audit-events?subject=${user.id}&format=csv`);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('id,at,type,outcome,reason,actor,actor_email,subject,subject_email,client_id,ip,user_agent,request_id,details');
    expect(lines).toHaveLength(4);
    // issue #15: the emails beside the ids
    expect(lines[1]).toContain(`,${user.id},${user.email},`);
    expect(csv.text).toContain("'=cmd|x");
    expect((await api(server.issuer, token, 'GET', '/audit-events?type=DROP%20TABLE')).status).toBe(400);
    expect((await api(server.issuer, token, 'GET', '/audit-events?subject=a%00b')).status).toBe(400);
    expect((await api(server.issuer, token, 'GET', '/clients/a%00b')).status).toBe(404);
    expect((await api(server.issuer, token, 'GET', '/users?q=a%00b')).status).toBe(200);
  });
});
