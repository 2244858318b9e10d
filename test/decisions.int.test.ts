/// <reference lib="dom" />
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import * as oidc from 'openid-client';
import { expectAccessible } from './support/a11y.js';
import { adminApiToken, api, createAccountWithTotp } from './support/admin.js';
import { Browser, type Page } from './support/browser.js';
import { testEnv } from './support/env.js';
import { runCli } from './support/process.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, RP_REDIRECT, startAuthorization, type AuthRequest, type Started } from './support/rp.js';
import { stepOf } from './support/steps.js';
import { useTestbed } from './support/testbed.js';

/**
 * Issue #19: every decision explained. Real sign-ins through openid-client leave a decision trace the
 * admin API and the admin UI (Chromium, axe-checked) show; the dry-run (API and CLI) answers the same
 * target and outcome as the real flow for the same inputs; `--all-users` counts who a stricter policy
 * would lock out; bad CLI input is one line and a non-zero exit.
 */
jest.setTimeout(120_000);
const CLIENT_NAME = '<script>alert("client")</script>Payroll & <b>Co</b>';
const LABEL = '"><img src=x onerror=alert(1)>Phone';
const bed = useTestbed({ chromium: true, client: { clientName: CLIENT_NAME } });

let token: string;
let admin: Awaited<ReturnType<typeof createAccountWithTotp>>;
beforeAll(async () => {
  token = (await adminApiToken(bed.server.app, bed.server.issuer)).token;
  admin = await createAccountWithTotp(bed.server.app, { admin: true, name: 'Ada Admin' });
});

async function authorize(browser: Browser, req: AuthRequest = {}, config = bed.config): Promise<{ started: Started; page: Page }> {
  const started = await startAuthorization(config, req);
  return { started, page: await browser.follow(started.url.toString()) };
}
const password = (browser: Browser, page: Page, who: { email: string; password: string }) => browser.submit(page, '/password', { email: who.email, password: who.password });
const code = async (browser: Browser, page: Page, totp: { code(epoch?: number): Promise<string> }) => browser.submit(page, '/totp', { code: await totp.code(bed.now()) });
const decisionsOf = async (userId: string, query = '') => {
  const res = await api(bed.server.issuer, token, 'GET', `/users/${userId}/decisions${query}`);
  expect(res.status).toBe(200);
  return res.json.items as any[];
};
const auditCount = async () => Number(((await bed.server.app.stores.db('audit_events').count({ n: '*' })) as Array<{ n: string }>)[0]!.n);

describe('the decision trace of real sign-ins (admin API)', () => {
  let user: Awaited<ReturnType<typeof createAccountWithTotp>>;
  let browser: Browser;
  let first: oidc.IDToken;
  let second: oidc.IDToken;

  beforeAll(async () => {
    user = await createAccountWithTotp(bed.server.app, { label: LABEL });
    browser = new Browser(bed.server.issuer);
    // a password sign-in (no acr asked)...
    const a = await authorize(browser);
    const cb1 = await password(browser, a.page, user);
    first = (await finish(bed.config, a.started, cb1.url)).claims()!;
    // ...then a step-up to aal2 with the authenticator app
    const b = await authorize(browser, { acr_values: 'aal2' });
    expect(stepOf(b.page)).toBe('totp');
    second = (await finish(bed.config, b.started, (await code(browser, b.page, user.totp)).url)).claims()!;
    expect([first.acr, second.acr]).toEqual(['aal1', 'aal2']);
  });

  it('shows both sign-ins, newest first, each decision with its inputs, held levels, target, steps, factors, outcome and issued claims', async () => {
    const items = await decisionsOf(user.id);
    expect(items).toHaveLength(2);
    const [stepUp, signIn] = items;

    // the step-up: the decision at /auth (step up to aal2) and the one at the resume (aal2 reached)
    expect(stepUp).toMatchObject({ client_id: bed.client.clientId, client_name: CLIENT_NAME, outcome: 'satisfied' });
    expect(stepUp.decisions).toHaveLength(2);
    const [asked, reached] = stepUp.decisions;
    expect(asked).toMatchObject({ resumed: false, outcome: 'step_up', reason: 'level_not_held' });
    expect(asked.trace.inputs.request).toEqual({ acrValues: 'aal2' });
    expect(asked.trace.requirement).toMatchObject({ requested: ['aal2'], source: 'acr_values', essential: false });
    expect(asked.trace.held[0]).toMatchObject({ acr: 'aal1', held: true, maxAgeSeconds: 30 * 86400 });
    expect(asked.trace.held[0].ageSeconds).toBeGreaterThanOrEqual(0);
    expect(asked.trace.held[1]).toMatchObject({ acr: 'aal2', held: false });
    expect(asked.trace.target).toMatchObject({ acr: 'aal2' });
    expect(asked.trace.steps).toEqual([expect.objectContaining({ acr: 'aal2', step: 'second_factor', allowedFactors: expect.arrayContaining(['totp']) })]);
    expect(asked.trace.inputs.sessionEvents).toEqual([expect.objectContaining({ factor: 'password', amr: ['pwd'] })]);

    expect(reached).toMatchObject({ resumed: true, outcome: 'satisfied', reason: 'target_reached' });
    expect(reached.steps_asked).toEqual([expect.objectContaining({ acr: 'aal2', step: 'second_factor' })]);
    expect(reached.factors_used).toEqual([expect.objectContaining({ factor: 'totp', label: LABEL, amr: ['otp'] })]);
    // the issued claims are the ID token's
    expect(reached.trace.issued).toEqual({ acr: 'aal2', amr: second.amr, authTime: second.auth_time });
    expect(Date.parse(asked.at)).toBeLessThanOrEqual(Date.parse(reached.at));

    // the first sign-in started without a session: one decision, at the resume, after the password
    expect(signIn.decisions).toHaveLength(1);
    expect(signIn.decisions[0]).toMatchObject({ resumed: true, outcome: 'satisfied', reason: 'target_reached' });
    expect(signIn.decisions[0].factors_used).toEqual([expect.objectContaining({ factor: 'password', amr: ['pwd'] })]);
    expect(signIn.decisions[0].trace.issued).toEqual({ acr: 'aal1', amr: first.amr, authTime: first.auth_time });
    expect(signIn.decisions[0].steps_asked).toEqual([expect.objectContaining({ acr: 'aal1', step: 'primary' })]);
  });

  it('a refused step-up shows the reason; filters by outcome and client; a page is a cursor', async () => {
    const c = await authorize(browser, { acr_values: 'phr' });
    expect(isCallback(c.page)).toBe(true);
    expect(new URL(c.page.url).searchParams.get('error')).toBe('unmet_authentication_requirements');

    const refused = await decisionsOf(user.id, '?outcome=unmet');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ outcome: 'unmet', decisions: [expect.objectContaining({ outcome: 'unmet', reason: 'no_enrolled_factor_for_target' })] });
    expect(refused[0].decisions[0].trace.outcome.words).toMatch(/refused/);
    expect(refused[0].decisions[0].trace.target).toBeUndefined();

    expect(await decisionsOf(user.id, `?client_id=${bed.client.clientId}&outcome=satisfied`)).toHaveLength(2);
    expect(await decisionsOf(user.id, '?client_id=someone-else')).toHaveLength(0);
    const page1 = await api(bed.server.issuer, token, 'GET', `/users/${user.id}/decisions?limit=2`);
    expect(page1.json.items).toHaveLength(2);
    const page2 = await decisionsOf(user.id, `?limit=2&before=${page1.json.next_before}`);
    expect(page2).toHaveLength(1);
    expect(new Set([...page1.json.items, ...page2].map((s: any) => s.sign_in)).size).toBe(3);

    const bad = await api(bed.server.issuer, token, 'GET', `/users/${user.id}/decisions?outcome=maybe`);
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/problem\+json/);
    expect((await api(bed.server.issuer, token, 'GET', '/users/00000000-0000-4000-8000-000000000000/decisions')).status).toBe(404);
    expect((await api(bed.server.issuer, undefined, 'GET', `/users/${user.id}/decisions`)).status).toBe(401);
  });

  it('the admin UI shows the trace, escaped, linked from the audit trail, and passes axe', async () => {
    // behind the admin sign-in like every admin page: without a session, off to /auth
    const anonymous = await fetch(`${bed.server.issuer}/admin/users/${user.id}/sign-ins`, { redirect: 'manual' });
    expect(anonymous.status).toBeGreaterThanOrEqual(300);
    expect(anonymous.status).toBeLessThan(400);
    expect(anonymous.headers.get('location')).toMatch(/\/auth\?/);
    const context = await bed.chromium.newContext();
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${bed.server.issuer}/admin/users/${user.id}`);
    await page.getByLabel('Email').fill(admin.email);
    await page.getByLabel('Password').fill(admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Code from your authenticator app').fill(await admin.totp.code(bed.now()));
    await page.getByRole('button', { name: 'Verify code' }).click();
    await page.getByRole('heading', { name: 'Recent sign-ins' }).waitFor();
    expect(await page.locator('[data-list="recent-sign-ins"] li').count()).toBe(3);
    await expectAccessible(page, 'user page with recent sign-ins');
    if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/admin-user-sign-ins.png`, fullPage: true });

    // the list, filtered by outcome
    await page.getByRole('link', { name: 'Every sign-in with its decision trace' }).click();
    await page.getByLabel('Outcome').selectOption('unmet');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/outcome=unmet/);
    expect(await page.locator('[data-list="sign-ins"] li').count()).toBe(1);
    expect(await page.locator('[data-list="sign-ins"] li').textContent()).toContain('no_enrolled_factor_for_target');
    await expectAccessible(page, 'sign-ins filtered by outcome');

    // the step-up's own page: both decisions in time order, the client's name and the label as text
    await page.goto(`${bed.server.issuer}/admin/users/${user.id}/sign-ins?outcome=satisfied`);
    await page.locator('[data-list="sign-ins"] li a').first().click();
    await page.getByRole('heading', { name: 'Decisions, in time order' }).waitFor();
    const decisions = page.locator('section[data-decision]');
    expect(await decisions.count()).toBe(2);
    expect(await decisions.nth(0).getAttribute('data-outcome')).toBe('step_up');
    expect(await decisions.nth(1).getAttribute('data-outcome')).toBe('satisfied');
    expect(await decisions.nth(0).locator('[data-field="asked"]').textContent()).toContain('acr_values=aal2');
    expect(await decisions.nth(0).locator('[data-field="held"] li[data-acr="aal1"]').getAttribute('data-held')).toBe('yes');
    expect(await decisions.nth(0).locator('[data-field="target"]').textContent()).toContain('aal2');
    expect(await decisions.nth(0).locator('[data-field="steps"]').textContent()).toContain('totp');
    expect(await decisions.nth(1).locator('[data-field="issued"]').textContent()).toContain(`auth_time ${second.auth_time}`);
    expect(await page.locator('[data-field="client"]').textContent()).toContain(CLIENT_NAME);
    expect(await decisions.nth(1).locator('[data-field="label"]').textContent()).toBe(LABEL);
    // markup from the client name and the label is inert: no element was made of it, no script ran
    expect(await page.locator('main img, main b, main script').count()).toBe(0);
    expect(dialogs).toEqual([]);
    const html = await page.content();
    expect(html).toContain('&lt;script&gt;alert("client")&lt;/script&gt;Payroll &amp; &lt;b&gt;Co&lt;/b&gt;');
    expect(html).not.toContain('<img src=x');
    await expectAccessible(page, 'one sign-in with its decision trace');
    if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/admin-sign-in-trace.png`, fullPage: true });

    // from an audit event to its trace
    await page.goto(`${bed.server.issuer}/admin/audit?subject=${encodeURIComponent(user.email)}&type=stepup.decision`);
    const links = page.locator('a[data-link="trace"]');
    expect(await links.count()).toBe(4);
    await links.first().click();
    await page.getByRole('heading', { name: 'Decisions, in time order' }).waitFor();
    expect(await page.locator('section[data-decision]').count()).toBeGreaterThanOrEqual(1);

    // another user's sign-in id under this user: not found
    const other = (await decisionsOf(user.id))[0].sign_in as string;
    const stranger = await createUser(bed.server.app);
    const res = await page.goto(`${bed.server.issuer}/admin/users/${stranger.id}/sign-ins/${other}`);
    expect(res?.status()).toBe(404);
    await context.close();
  });
});

/**
 * SPEC §2's rules as rows, each driven twice: the real flow (a real RP request on a real session,
 * whose decision the audit trail records) and the dry-run with the same inputs (the session's events
 * as the test made them, the same request and client, at the decision's time).
 */
describe('the dry-run answers what the real flow does (SPEC §2 rules as rows)', () => {
  let strict: { clientId: string; config: oidc.Configuration };
  beforeAll(async () => {
    const c = await createConfidentialClient(bed.server.app, { minimumAcr: 'aal2', clientName: 'Strict' });
    strict = { clientId: c.clientId, config: await discover(bed.server.issuer, c.clientId, c.clientSecret) };
  });

  const ESSENTIAL_GOLD = { id_token: { acr: { essential: true, values: ['gold'] } } };
  it.each([
    ['rule 2: a password session asked for aal1', 'password', { acr_values: 'aal1' }, false, 0, 'satisfied', 'aal1'],
    ['rule 3: a password session asked for aal2', 'password', { acr_values: 'aal2' }, false, 0, 'step_up', 'aal2'],
    ['rule 1: unknown values are ignored', 'password', { acr_values: 'gold aal1' }, false, 0, 'satisfied', 'aal1'],
    ["rule 1: the client's minimum raises the target", 'password', { acr_values: 'aal1' }, true, 0, 'step_up', 'aal2'],
    ['rule 4: a level no enrolled factor reaches', 'password', { acr_values: 'phr' }, false, 0, 'unmet', undefined],
    ['rule 4: an essential acr naming only unknown values', 'password', { claims: ESSENTIAL_GOLD }, false, 0, 'unmet', undefined],
    ['rule 5: nothing asked: the highest level held', 'password+totp', {}, false, 0, 'satisfied', 'aal2'],
    ['rule 6: prompt=login', 'password', { acr_values: 'aal1', prompt: 'login' }, false, 0, 'step_up', 'aal1'],
    ['rule 6: max_age passed', 'password', { acr_values: 'aal1', max_age: 60 }, false, 120, 'step_up', 'aal1'],
    ["SPEC §1: aal2's 12 h window passed", 'password+totp', { acr_values: 'aal2' }, false, 13 * 3600, 'step_up', 'aal2'],
  ] as const)('%s', async (_name, session, request, strictClient, later, outcome, target) => {
    const user = await createAccountWithTotp(bed.server.app);
    const browser = new Browser(bed.server.issuer);
    // the session, as the test makes it (and the times it made each verification)
    const a = await authorize(browser, session === 'password' ? {} : { acr_values: 'aal2' });
    let page = await password(browser, a.page, user);
    const verified: [string, number][] = [['password', bed.now()]];
    if (session === 'password+totp') {
      page = await code(browser, page, user.totp);
      verified.push(['totp', bed.now()]);
    }
    expect(isCallback(page)).toBe(true);
    await finish(bed.config, a.started, page.url);

    bed.server.clock.offset += later;
    try {
      // the real flow
      const config = strictClient ? strict.config : bed.config;
      const real = await authorize(browser, request as AuthRequest, config);
      if (outcome === 'step_up') expect(stepOf(real.page)).toBeDefined();
      else expect(real.page.url.startsWith(RP_REDIRECT)).toBe(true);
      const recorded = (await decisionsOf(user.id, '?limit=1'))[0].decisions[0];
      expect(recorded.trace.outcome.code).toBe(outcome);
      expect(recorded.trace.target?.acr).toBe(target);

      // the dry-run, same inputs
      const at = recorded.trace.inputs.now as number;
      const before = await auditCount();
      const dry = await api(bed.server.issuer, token, 'POST', '/policy/explain', {
        user: user.email,
        client_id: strictClient ? strict.clientId : bed.client.clientId,
        ...('acr_values' in request ? { acr_values: request.acr_values } : {}),
        ...('claims' in request ? { claims: request.claims } : {}),
        ...('max_age' in request ? { max_age: request.max_age } : {}),
        ...('prompt' in request ? { prompt: request.prompt } : {}),
        at: new Date(at * 1000).toISOString(),
        session: verified.map(([kind, t]) => `${kind}@-${Math.max(0, at - t)}s`).join(','),
      });
      expect(dry.status).toBe(200);
      expect(dry.json.trace.outcome.code).toBe(recorded.trace.outcome.code);
      expect(dry.json.trace.outcome.reason).toBe(recorded.trace.outcome.reason);
      expect(dry.json.trace.target?.acr).toBe(recorded.trace.target?.acr);
      expect(dry.json.trace.steps.map((s: any) => s.acr)).toEqual(recorded.trace.steps.map((s: any) => s.acr));
      expect(dry.json).toMatchObject({ user: { id: user.id, email: user.email }, policy: 'configured' });
      // the dry-run wrote nothing
      expect(await auditCount()).toBe(before);
    } finally {
      bed.server.clock.offset -= later;
    }
  });

  it('answers bad input with a JSON problem naming the field', async () => {
    const user = await createUser(bed.server.app);
    const base = { user: user.email, client_id: bed.client.clientId };
    const cases: [Record<string, unknown>, number, string][] = [
      [{ ...base, user: 'nobody@example.com' }, 404, ''],
      [{ ...base, client_id: 'no-such-client' }, 404, ''],
      [{ ...base, session: 'password@10m' }, 400, 'session'],
      [{ ...base, claims: '{not json' }, 400, 'claims'],
      [{ ...base, claims: { id_token: { acr: { values: 'aal2' } } } }, 400, 'claims'],
      [{ ...base, policy: { levels: [] } }, 400, 'policy'],
      [{ ...base, at: 'yesterday' }, 400, 'at'],
      [{ ...base, max_age: -1 }, 400, 'max_age'],
      [{ ...base, surprise: true }, 400, ''],
    ];
    for (const [body, status, field] of cases) {
      const res = await api(bed.server.issuer, token, 'POST', '/policy/explain', body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), status]);
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
      if (field) expect(res.json.errors).toEqual([expect.objectContaining({ path: field })]);
    }
    const candidate = await api(bed.server.issuer, token, 'POST', '/policy/explain', { ...base, acr_values: 'gold', policy: { levels: [{ acr: 'bronze', step: 'primary', maxAge: 3600 }, { acr: 'gold', step: 'second_factor', maxAge: 600 }] } });
    expect(candidate.status).toBe(200);
    expect(candidate.json).toMatchObject({ policy: 'given', trace: { outcome: { code: 'step_up' }, target: { acr: 'gold' } } });
  });

  it('both routes are in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${bed.server.issuer}/admin/api/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string }>> };
    expect(doc.paths['/users/{userId}/decisions']?.get?.operationId).toBe('listUserDecisions');
    expect(doc.paths['/policy/explain']?.post?.operationId).toBe('explainPolicy');
  });
});

describe('the stored trace is bounded', () => {
  it('an RP\'s oversized claims parameter and acr_values are not kept beyond what a decision reads', async () => {
    const user = await createAccountWithTotp(bed.server.app);
    const browser = new Browser(bed.server.issuer);
    const claims = { id_token: { acr: { values: ['aal1', ...Array.from({ length: 40 }, (_, i) => `junk-${i}`)] } }, userinfo: { nickname: { value: 'y'.repeat(3000) } } };
    const a = await authorize(browser, { claims, acr_values: `${'x'.repeat(1500)} aal1` });
    const cb = await password(browser, a.page, user);
    expect((await finish(bed.config, a.started, cb.url)).claims()!.acr).toBe('aal1');
    const rows = await bed.server.app.stores.db('audit_events').where({ subject: user.id, type: 'stepup.decision' }).select('details');
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows[0].details);
    expect(stored).not.toContain('yyyy');
    expect(stored).not.toContain('junk-10');
    expect(stored.length).toBeLessThan(6000);
    const recorded = (await decisionsOf(user.id))[0].decisions[0];
    expect(recorded.trace.inputs.request.claims).toEqual({ id_token: { acr: { values: ['aal1', ...Array.from({ length: 9 }, (_, i) => `junk-${i}`)] } } });
    expect(recorded.trace.inputs.request.acrValues).toHaveLength(512);
  });
});

describe('stepup policy explain (CLI)', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'stepup-explain-'));
    env = testEnv(bed.iso, bed.server.issuer);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('explains one user readably and as JSON', async () => {
    const user = await createAccountWithTotp(bed.server.app);
    const out = await runCli(['policy', 'explain', '--user', user.email, '--client', bed.client.clientId, '--acr-values', 'aal2', '--session', 'password@-10m'], env);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^Target\s+aal2/m);
    expect(out.stdout).toMatch(/^Outcome\s+the user is asked.*\[step_up level_not_held\]$/m);
    expect(out.stdout).toMatch(/^ {2}aal1\s+held: verified 10 min ago/m);
    const json = await runCli(['policy', 'explain', '--user', user.id, '--client', bed.client.clientId, '--json', '--session', 'password@-10m,totp@-5m', '--at', '2027-01-01T00:00:00Z'], env);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ at: '2027-01-01T00:00:00.000Z', trace: { outcome: { code: 'satisfied', reason: 'no_acr_requested' }, issued: { acr: 'aal2' } } });
  });

  it('--all-users with a policy that adds a level only WebAuthn reaches: every account without WebAuthn cannot reach it', async () => {
    const withKey = await createUser(bed.server.app);
    await bed.server.app.stores.factors.createWebAuthn(withKey.id, {
      label: 'Security key',
      credentialId: randomBytes(16).toString('base64url'),
      publicKey: randomBytes(65),
      signCount: 0,
      transports: ['usb'],
      aaguid: '00000000-0000-0000-0000-000000000000',
      backupEligible: false,
      backupState: false,
      userVerifying: false,
      attested: false,
    });
    const policyFile = join(dir, 'stricter.json');
    writeFileSync(
      policyFile,
      JSON.stringify({
        selfEnrollment: false,
        levels: [
          { acr: 'aal1', step: 'primary', maxAge: 86400 },
          { acr: 'aal2', step: 'second_factor', maxAge: 43200 },
          { acr: 'webauthn-only', step: 'phishing_resistant', maxAge: 3600 },
        ],
      }),
    );
    const { db } = bed.server.app.stores;
    const total = Number(((await db('accounts').count({ n: '*' })) as Array<{ n: string }>)[0]!.n);
    const webauthn = Number(((await db('factors').where({ type: 'webauthn', status: 'active' }).countDistinct({ n: 'account_id' })) as Array<{ n: string }>)[0]!.n);
    expect(webauthn).toBeGreaterThanOrEqual(1);

    const out = await runCli(['policy', 'explain', '--all-users', '--policy-file', policyFile, '--client', bed.client.clientId, '--acr-values', 'webauthn-only', '--json'], env);
    expect(out.stderr).toBe('');
    const result = JSON.parse(out.stdout);
    expect(result.accounts).toBe(total);
    const level = result.levels.find((l: any) => l.acr === 'webauthn-only');
    expect(level).toMatchObject({ reachable: webauthn, byEnrolling: 0, unreachable: total - webauthn });
    expect(level.unreachableSample).not.toContain(withKey.email);
    expect(result.outcomes).toEqual({ satisfied: 0, step_up: webauthn, unmet: total - webauthn });

    const readable = await runCli(['policy', 'explain', '--all-users', '--policy-file', policyFile, '--acr-values', 'webauthn-only'], env);
    expect(readable.code).toBe(0);
    expect(readable.stdout).toMatch(new RegExp(`^ {2}webauthn-only\\s+${webauthn} / 0 / ${total - webauthn}`, 'm'));
    expect(readable.stdout).toContain(`unmet ${total - webauthn}`);
  });

  it.each([
    [['policy', 'explain', '--user', 'x@example.com', '--client', 'c', '--bogus'], /bogus/],
    [['policy', 'explain', '--user', 'nobody@example.com', '--client', 'CLIENT'], /^stepup: no user nobody@example\.com$/],
    [['policy', 'explain', '--user', 'USER', '--client', 'no-such-client'], /^stepup: no client with id no-such-client$/],
    [['policy', 'explain', '--user', 'USER', '--client', 'CLIENT', '--claims', '{oops'], /^stepup: --claims: not valid JSON$/],
    [['policy', 'explain', '--user', 'USER', '--client', 'CLIENT', '--session', 'password@5m'], /^stepup: --session: bad session event/],
    [['policy', 'explain', '--user', 'USER', '--client', 'CLIENT', '--max-age', 'soon'], /--max-age must be a whole number/],
    [['policy', 'explain', '--user', 'USER', '--client', 'CLIENT', '--policy-file', '/nonexistent/policy.json'], /^stepup: --policy-file \/nonexistent\/policy\.json: /],
    [['policy', 'explain', '--client', 'CLIENT'], /--user .* or --all-users is required/],
    [['policy', 'frobnicate'], /usage: stepup policy explain/],
  ])('%j: one line, non-zero exit', async (args, message) => {
    const user = await createUser(bed.server.app);
    const argv = (args as readonly string[]).map((a) => (a === 'USER' ? user.email : a === 'CLIENT' ? bed.client.clientId : a));
    const out = await runCli(argv, env);
    expect(out.code).not.toBe(0);
    expect(out.stdout).toBe('');
    expect(out.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(out.stderr.trimEnd()).toMatch(message);
  });
});
