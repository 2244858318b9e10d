import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { totpCodeAt } from '../src/factors/totp/totp.js';
import { Browser, findForm, type Page } from './support/browser.js';
import { dropIsolation, newIsolation, RISK_SIGNALS_OFF } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { enrollTotpInStepUp, reasonOf, stepOf } from './support/steps.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, startAuthorization, type AuthRequest, type Started } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/** Issue #3 / SPEC §1, §2, §4: the step-up engine driven by a real RP library and form posts. */
const iso = newIsolation();
let server: RunningServer;
let rp: { clientId: string; clientSecret: string };
let config: oidc.Configuration;

beforeAll(async () => {
  server = await startServer(iso);
  rp = await createConfidentialClient(server.app);
  config = await discover(server.issuer, rp.clientId, rp.clientSecret);
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

const now = () => Math.floor(Date.now() / 1000) + server.clock.offset;
const isPasswordPage = (p: Page) => p.html.includes('autocomplete="current-password"');
const isTotpPage = (p: Page) => stepOf(p) === 'totp';
const isEnrollPage = (p: Page) => stepOf(p) === 'enroll_choice';

async function userWithTotp() {
  const user = await createUser(server.app);
  const totp = await enrollTotp(server.app, user.id);
  return { user, totp };
}

async function authorize(browser: Browser, req: AuthRequest = {}) {
  const started = await startAuthorization(config, req);
  return { started, page: await browser.follow(started.url.toString()) };
}

async function password(browser: Browser, page: Page, email: string, pw: string) {
  return browser.submit(page, '/password', { email, password: pw });
}

async function code(browser: Browser, page: Page, value: string) {
  return browser.submit(page, '/totp', { code: value });
}

function errorOf(page: Page, started: Started) {
  expect(isCallback(page)).toBe(true);
  const params = new URL(page.url).searchParams;
  expect(params.get('state')).toBe(started.state);
  expect(params.get('iss')).toBe(server.issuer);
  return { error: params.get('error'), description: params.get('error_description') };
}

/** A browser whose session holds aal1 (password) for the user. */
async function passwordSession(email: string, pw: string) {
  const browser = new Browser(server.issuer);
  const { started, page } = await authorize(browser);
  const cb = await password(browser, page, email, pw);
  const tokens = await finish(config, started, cb.url);
  expect(tokens.claims()!.acr).toBe('aal1');
  return { browser, tokens };
}

describe('stepping up a password session to aal2 (SPEC §2 rule 3)', () => {
  it('asks only for the TOTP code, never the password again, and issues acr=aal2 with the TOTP moment as auth_time', async () => {
    const { user, totp } = await userWithTotp();
    const { browser, tokens: first } = await passwordSession(user.email, user.password);
    const { started, page } = await authorize(browser, { acr_values: 'aal2' });
    expect(isPasswordPage(page)).toBe(false);
    expect(isTotpPage(page)).toBe(true);
    expect(reasonOf(page)).toBe(`${rp.clientId} asks for a second step: a code from your authenticator app, a passkey or a security key.`);
    expect(page.html).toMatch(/autocomplete="one-time-code"/);
    expect(page.html).toMatch(/inputmode="numeric"/);

    const before = now();
    const cb = await code(browser, page, await totp.code());
    const tokens = await finish(config, started, cb.url);
    const claims = tokens.claims()!;
    expect(claims.acr).toBe('aal2');
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
    expect(claims.auth_time).toBeGreaterThanOrEqual(before);
    expect(claims.auth_time).toBeGreaterThanOrEqual(first.claims()!.auth_time!);

    // access token (JWT for a resource) and introspection carry the same, and refresh keeps them (SPEC §2.8, §2.10)
    expect(await oidc.tokenIntrospection(config, tokens.access_token)).toMatchObject({ acr: 'aal2', auth_time: claims.auth_time });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()).toMatchObject({ acr: 'aal2', amr: claims.amr, auth_time: claims.auth_time });

    const withResource = await authorize(browser, { acr_values: 'aal2', resource: 'https://api.example.com' });
    expect(isCallback(withResource.page)).toBe(true);
    const rs = await finish(config, withResource.started, withResource.page.url, 'https://api.example.com');
    expect(decodeJwt(rs.access_token)).toMatchObject({ acr: 'aal2', auth_time: claims.auth_time });
  });

  it('a session at aal2 asked for aal1 is not prompted and gets acr=aal1; "phr aal2" for a TOTP user gives aal2', async () => {
    const { user, totp } = await userWithTotp();
    const browser = new Browser(server.issuer);
    const a = await authorize(browser, { acr_values: 'aal2' });
    const totpPage = await password(browser, a.page, user.email, user.password);
    expect(isTotpPage(totpPage)).toBe(true);
    await finish(config, a.started, (await code(browser, totpPage, await totp.code())).url);

    const b = await authorize(browser, { acr_values: 'aal1' });
    expect(isCallback(b.page)).toBe(true);
    expect((await finish(config, b.started, b.page.url)).claims()!.acr).toBe('aal1');

    const c = await authorize(browser, { acr_values: 'phr aal2' });
    expect(isCallback(c.page)).toBe(true);
    expect((await finish(config, c.started, c.page.url)).claims()!.acr).toBe('aal2');

    // no acr requested: the highest level held (rule 5)
    const d = await authorize(browser);
    expect((await finish(config, d.started, d.page.url)).claims()!.acr).toBe('aal2');
  });
});

describe('unknown and unreachable levels (SPEC §2 rules 1 and 4)', () => {
  it('ignores unknown acr_values: the request succeeds and acr says what was proven', async () => {
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer);
    const { started, page } = await authorize(browser, { acr_values: 'urn:example:gold' });
    const cb = await password(browser, page, user.email, user.password);
    expect((await finish(config, started, cb.url)).claims()!.acr).toBe('aal1');
  });

  it.each([
    ['value', { essential: true, value: 'urn:example:gold' }],
    ['values', { essential: true, values: ['urn:example:gold', 'urn:example:platinum'] }],
  ])('an essential acr naming only unknown values (%s) gives unmet_authentication_requirements', async (_k, acr) => {
    const browser = new Browser(server.issuer);
    const { started, page } = await authorize(browser, { claims: { id_token: { acr } } });
    expect(errorOf(page, started).error).toBe('unmet_authentication_requirements');
  });

  it('a known level the user cannot reach gives unmet_authentication_requirements, with state and iss', async () => {
    const { user } = await userWithTotp();
    const { browser } = await passwordSession(user.email, user.password);
    const { started, page } = await authorize(browser, { acr_values: 'phr' });
    expect(errorOf(page, started).error).toBe('unmet_authentication_requirements');
  });

  it.each([
    ['value', { essential: true, value: 'aal2' }],
    ['values', { essential: true, values: ['aal2', 'phr'] }],
  ])('enforces an essential acr with %s, and acr_values cannot cancel it', async (_k, acr) => {
    const { user, totp } = await userWithTotp();
    const { browser } = await passwordSession(user.email, user.password);
    const { started, page } = await authorize(browser, { claims: { id_token: { acr } }, acr_values: 'aal1' });
    expect(isTotpPage(page)).toBe(true);
    const cb = await code(browser, page, await totp.code());
    expect((await finish(config, started, cb.url)).claims()!.acr).toBe('aal2');
  });
});

describe('client policy (SPEC §2 rule 1)', () => {
  it('minimum_acr=aal2 cannot be lowered by acr_values=aal1', async () => {
    const strict = await createConfidentialClient(server.app, { minimumAcr: 'aal2' });
    const strictConfig = await discover(server.issuer, strict.clientId, strict.clientSecret);
    const { user, totp } = await userWithTotp();
    const browser = new Browser(server.issuer);
    const started = await startAuthorization(strictConfig, { acr_values: 'aal1' });
    const loginPage = await browser.follow(started.url.toString());
    const totpPage = await password(browser, loginPage, user.email, user.password);
    expect(isTotpPage(totpPage)).toBe(true);
    const cb = await code(browser, totpPage, await totp.code());
    expect((await finish(strictConfig, started, cb.url)).claims()!.acr).toBe('aal2');
  });

  it('applies the client default_acr_values when the request names none', async () => {
    const client = await createConfidentialClient(server.app, { defaultAcrValues: ['aal2'] });
    const cfg = await discover(server.issuer, client.clientId, client.clientSecret);
    const { user } = await userWithTotp();
    const browser = new Browser(server.issuer);
    const started = await startAuthorization(cfg);
    const totpPage = await password(browser, await browser.follow(started.url.toString()), user.email, user.password);
    expect(isTotpPage(totpPage)).toBe(true);
  });
});

describe('freshness: max_age, prompt=login, prompt=none (SPEC §2 rules 6, 7)', () => {
  it('max_age=1 after 2 s asks again and gives a new, strictly later auth_time; max_age=10000 does not', async () => {
    const user = await createUser(server.app);
    const { browser, tokens } = await passwordSession(user.email, user.password);
    const first = tokens.claims()!.auth_time!;

    const relaxed = await authorize(browser, { max_age: 10000 });
    expect(isCallback(relaxed.page)).toBe(true);
    expect((await finish(config, relaxed.started, relaxed.page.url)).claims()!.auth_time).toBe(first);

    await new Promise((r) => setTimeout(r, 2100));
    const strict = await authorize(browser, { max_age: 1 });
    expect(isPasswordPage(strict.page)).toBe(true);
    const cb = await password(browser, strict.page, user.email, user.password);
    const again = (await finish(config, strict.started, cb.url)).claims()!;
    expect(again.auth_time).toBeGreaterThan(first);
  });

  it.each([
    ['prompt=login', { prompt: 'login' }],
    ['max_age=0', { max_age: 0 }],
  ])('%s asks for a fresh authentication', async (_label, req) => {
    const user = await createUser(server.app);
    const { browser, tokens } = await passwordSession(user.email, user.password);
    await new Promise((r) => setTimeout(r, 1100));
    const { started, page } = await authorize(browser, req);
    expect(isPasswordPage(page)).toBe(true);
    const cb = await password(browser, page, user.email, user.password);
    expect((await finish(config, started, cb.url)).claims()!.auth_time).toBeGreaterThan(tokens.claims()!.auth_time!);
  });

  it('prompt=none when a step is needed answers login_required with state intact', async () => {
    const { user } = await userWithTotp();
    const { browser } = await passwordSession(user.email, user.password);
    const { started, page } = await authorize(browser, { acr_values: 'aal2', prompt: 'none' });
    expect(errorOf(page, started).error).toBe('login_required');
  });

  it('steps down when the aal2 window passes: an aal2 request then asks for TOTP only', async () => {
    const { user, totp } = await userWithTotp();
    const browser = new Browser(server.issuer);
    const a = await authorize(browser, { acr_values: 'aal2' });
    const totpPage = await password(browser, a.page, user.email, user.password);
    await finish(config, a.started, (await code(browser, totpPage, await totp.code())).url);
    try {
      server.clock.offset = 12 * 3600 + 60;
      const held = await authorize(browser);
      expect((await finish(config, held.started, held.page.url)).claims()!.acr).toBe('aal1');
      const b = await authorize(browser, { acr_values: 'aal2' });
      expect(isTotpPage(b.page)).toBe(true);
      const cb = await code(browser, b.page, await totpCodeAt(totp.secret, now()));
      expect((await finish(config, b.started, cb.url)).claims()!.acr).toBe('aal2');
    } finally {
      server.clock.offset = 0;
    }
  });
});

describe('TOTP is single-use and rate limited (SPEC §3)', () => {
  it('accepts a code once: the same code in a later step-up is refused', async () => {
    const { user, totp } = await userWithTotp();
    const value = await totp.code();
    const { browser } = await passwordSession(user.email, user.password);
    const a = await authorize(browser, { acr_values: 'aal2' });
    await finish(config, a.started, (await code(browser, a.page, value)).url);

    const other = await passwordSession(user.email, user.password);
    const b = await authorize(other.browser, { acr_values: 'aal2' });
    const refused = await code(other.browser, b.page, value);
    expect(refused.status).toBe(401);
    expect(refused.html).toContain('That code is not valid');
  });

  it('20 parallel logins submitting one code: exactly one succeeds', async () => {
    const { user, totp } = await userWithTotp();
    const sessions = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const { browser } = await passwordSession(user.email, user.password);
        const { page } = await authorize(browser, { acr_values: 'aal2' });
        return { browser, page };
      }),
    );
    const value = await totp.code();
    const results = await Promise.all(
      sessions.map(({ browser, page }) => {
        const f = findForm(page.html, '/totp');
        return browser.request(f.action, { method: 'POST', body: new URLSearchParams({ ...f.hidden, code: value }) });
      }),
    );
    expect(results.filter((r) => r.status === 303)).toHaveLength(1);
    // the losers are refused: wrong code (401), or already locked out by the failures racing beside them (429)
    expect(results.filter((r) => r.status === 401 || r.status === 429)).toHaveLength(19);
  });

  it('locks out after repeated wrong codes, and the lockout holds across a restarted login', async () => {
    const { user, totp } = await userWithTotp();
    const { browser } = await passwordSession(user.email, user.password);
    const { page } = await authorize(browser, { acr_values: 'aal2' });
    // the restarted login is prepared first: the first lockout lasts 2 s, and a password sign-in on a
    // loaded machine can take longer than that, so the lockout would end before the test looks at it
    const fresh = await passwordSession(user.email, user.password);
    const { page: freshPage } = await authorize(fresh.browser, { acr_values: 'aal2' });
    // 5 free attempts; the 6th failure starts a lockout; the 7th attempt is refused before the code is checked
    const statuses: number[] = [];
    let last: Page = page;
    for (let i = 0; i < 7; i++) {
      last = await code(browser, last, '000000');
      statuses.push(last.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
    const audit = await server.app.stores.audit.list({ subject: user.id, type: 'login.totp' });
    expect(audit.map((a) => a.reason)).toContain('lockout_started');
    // a new login (new interaction, new session) is still locked for that account, even with the right code
    const locked = await code(fresh.browser, freshPage, await totp.code());
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('abandoning a step-up leaves no stronger session (issue #3)', () => {
  it('a session that left the TOTP page stays at aal1', async () => {
    const { user } = await userWithTotp();
    const { browser } = await passwordSession(user.email, user.password);
    const a = await authorize(browser, { acr_values: 'aal2' });
    expect(isTotpPage(a.page)).toBe(true);
    // walk away; a plain request still gets aal1 and an aal2 request asks for the code again
    const b = await authorize(browser);
    expect((await finish(config, b.started, b.page.url)).claims()!.acr).toBe('aal1');
    const c = await authorize(browser, { acr_values: 'aal2', prompt: 'none' });
    expect(errorOf(c.page, c.started).error).toBe('login_required');
  });
});

describe('enrollment during step-up (SPEC §4 selfEnrollment)', () => {
  it('a password-only user enrolls TOTP inside the step-up and ends with acr=aal2', async () => {
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer);
    const { started, page } = await authorize(browser, { acr_values: 'aal2' });
    const enroll = await password(browser, page, user.email, user.password);
    expect(isEnrollPage(enroll)).toBe(true);
    const totpPage = await browser.submit(enroll, '/interaction/', { enroll: 'totp' });
    expect(stepOf(totpPage)).toBe('enroll_totp');
    expect(totpPage.html).toMatch(/<img class="qr" src="data:image\/svg\+xml;base64,/);
    const { page: codesPage, secret: manualKey } = await enrollTotpInStepUp(browser, totpPage, now());
    // the first second factor comes with 10 recovery codes, shown once
    expect([...codesPage.html.matchAll(/<li><code>([0-9a-z-]+)<\/code><\/li>/g)]).toHaveLength(10);
    const cb = await browser.submit(codesPage, `/interaction/${new URL(codesPage.url).pathname.split('/')[2]}`);
    const claims = (await finish(config, started, cb.url)).claims()!;
    expect(claims.acr).toBe('aal2');
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
    const factors = await server.app.stores.factors.listForAccount(user.id);
    expect(factors.map((f) => f.type)).toEqual(['totp']);
    // the secret is sealed at rest (SPEC §3), never stored in clear
    const [row] = (await server.app.stores.db('factors').where({ account_id: user.id }).select('secret_sealed')) as Array<{ secret_sealed: string }>;
    expect(row!.secret_sealed).toMatch(/^v1\./);
    expect(row!.secret_sealed).not.toContain(manualKey);
    const audit = await server.app.stores.audit.list({ subject: user.id, type: 'factor.enroll' });
    expect(audit[0]).toMatchObject({ outcome: 'success' });
  });

  it('a pending enrollment that was never confirmed does not count as a factor', async () => {
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer);
    const { page } = await authorize(browser, { acr_values: 'aal2' });
    const enroll = await password(browser, page, user.email, user.password);
    expect(isEnrollPage(enroll)).toBe(true);
    expect(await server.app.stores.factors.listForAccount(user.id)).toEqual([]);
  });
});

describe('selfEnrollment off (POLICY_FILE)', () => {
  const iso2 = newIsolation();
  let strictServer: RunningServer;
  let strictConfig: oidc.Configuration;
  const policyFile = `/tmp/stepup-policy-${iso2.schema}.json`;

  beforeAll(async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      policyFile,
      JSON.stringify({
        levels: [
          { acr: 'aal1', step: 'primary', maxAge: 2592000 },
          { acr: 'aal2', step: 'second_factor', maxAge: 43200 },
          { acr: 'phr', step: 'phishing_resistant', maxAge: 43200 },
          { acr: 'phrh', step: 'device_bound', maxAge: 43200 },
        ],
        selfEnrollment: false,
        risk: RISK_SIGNALS_OFF,
      }),
    );
    strictServer = await startServer(iso2, { POLICY_FILE: policyFile });
    const client = await createConfidentialClient(strictServer.app);
    strictConfig = await discover(strictServer.issuer, client.clientId, client.clientSecret);
  });
  afterAll(async () => {
    await strictServer?.close();
    await dropIsolation(iso2);
  });

  it('a password-only user asked for aal2 gets unmet_authentication_requirements', async () => {
    const user = await createUser(strictServer.app);
    const browser = new Browser(strictServer.issuer);
    const started = await startAuthorization(strictConfig, { acr_values: 'aal2' });
    const loginPage = await browser.follow(started.url.toString());
    const after = await browser.submit(loginPage, '/password', { email: user.email, password: user.password });
    expect(isCallback(after)).toBe(true);
    const params = new URL(after.url).searchParams;
    expect(params.get('error')).toBe('unmet_authentication_requirements');
    expect(params.get('state')).toBe(started.state);
    expect(params.get('iss')).toBe(strictServer.issuer);
  });
});

describe('every decision is audited (SPEC §2)', () => {
  it('records inputs, held levels, target and outcome', async () => {
    const { user, totp } = await userWithTotp();
    const { browser } = await passwordSession(user.email, user.password);
    const a = await authorize(browser, { acr_values: 'aal2' });
    await finish(config, a.started, (await code(browser, a.page, await totp.code())).url);
    const decisions = await server.app.stores.audit.list({ subject: user.id, type: 'stepup.decision' });
    const stepUp = decisions.find((d) => d.outcome === 'info');
    expect(stepUp).toMatchObject({ reason: 'level_not_held', clientId: rp.clientId, details: { requested: ['aal2'], held: ['aal1'], target: 'aal2' } });
    const satisfied = decisions.find((d) => d.outcome === 'success' && (d.details as { resumed?: boolean }).resumed);
    expect(satisfied).toMatchObject({ reason: 'target_reached', details: { held: ['aal1', 'aal2'], target: 'aal2' } });
  });
});

describe('enrollment is re-checked at confirmation (SPEC §4)', () => {
  it('a pending enrollment cannot be confirmed once the account has a second factor', async () => {
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer);
    const { page } = await authorize(browser, { acr_values: 'aal2' });
    const enroll = await password(browser, page, user.email, user.password);
    expect(isEnrollPage(enroll)).toBe(true);
    const totpPage = await browser.submit(enroll, '/interaction/', { enroll: 'totp' });
    const manualKey = /<code id="manual-key">([^<]+)<\/code>/.exec(totpPage.html)![1]!.replace(/\s/g, '');
    await enrollTotp(server.app, user.id, 'Enrolled elsewhere'); // meanwhile, in another session
    const after = await browser.submit(totpPage, '/enroll/totp', { code: await totpCodeAt(manualKey, now()) });
    expect(isCallback(after)).toBe(false);
    expect(isTotpPage(after)).toBe(true); // now the existing second factor is required
    const factors = await server.app.stores.factors.listForAccount(user.id);
    expect(factors.map((f) => f.label)).toEqual(['Enrolled elsewhere']);
  });
});
