import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as oidc from 'openid-client';
import { pino } from 'pino';
import { REDACTED_PATHS } from '../src/ops/logger.js';
import { DEVICE_COOKIE } from '../src/risk/device-cookie.js';
import { Browser, decodeEntities, type Page } from './support/browser.js';
import { dropIsolation, newIsolation, type Isolation } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { adminSignIn, createAccountWithTotp } from './support/admin.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, passwordLogin, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';
import { enrollTotpInStepUp, reasonOf, stepOf, uidOf } from './support/steps.js';

/**
 * Issue #16: risk signals demand a step and never grant one, against the real server, Postgres and
 * Redis. Source addresses are real: the test browser binds its connections to distinct loopback
 * addresses (127.0.0.2 and 127.1.2.3 are different /24 networks), so ctx.ip is what the socket says.
 */
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0';
const LEVELS = [
  { acr: 'aal1', step: 'primary', maxAge: 2592000 },
  { acr: 'aal2', step: 'second_factor', maxAge: 43200 },
  { acr: 'phr', step: 'phishing_resistant', maxAge: 43200 },
  { acr: 'phrh', step: 'device_bound', maxAge: 43200 },
];
const SECOND_STEP = 'a second step: a code from your authenticator app, a passkey or a security key';

interface Bed {
  iso: Isolation;
  server: RunningServer;
  config: oidc.Configuration;
  clientId: string;
  notifications(accountId: string): Array<Record<string, unknown>>;
}

/** A server whose policy file has this `risk` section (undefined: the defaults, every signal on). */
function useRiskServer(risk: object | undefined, env: Record<string, string> = {}): Bed {
  const bed = { iso: newIsolation() } as Bed;
  const lines: string[] = [];
  beforeAll(async () => {
    const file = `/tmp/stepup-risk-${bed.iso.schema}.json`;
    writeFileSync(file, JSON.stringify({ levels: LEVELS, ...(risk ? { risk } : {}) }));
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    const logger = pino({ level: 'info', redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { service: 'stepup' } }, sink);
    bed.server = await startServer(bed.iso, { POLICY_FILE: file, ...env }, { logger });
    const rp = await createConfidentialClient(bed.server.app);
    bed.clientId = rp.clientId;
    bed.config = await discover(bed.server.issuer, rp.clientId, rp.clientSecret);
  });
  afterAll(async () => {
    await bed.server?.close();
    await dropIsolation(bed.iso);
  });
  bed.notifications = (accountId) =>
    lines
      .map((l) => JSON.parse(l) as { notification?: Record<string, unknown> })
      .flatMap((l) => (l.notification?.accountId === accountId ? [l.notification] : []));
  return bed;
}

const reason = (page: Page) => decodeEntities(reasonOf(page) ?? '');

async function signalsOf(bed: Bed, accountId: string) {
  const decisions = await bed.server.app.stores.audit.list({ subject: accountId, type: 'stepup.decision' });
  // newest first: the decision at the resume of the last sign-in
  return decisions[0]?.details?.signals;
}

/** A new sign-in in the same browser: the session cookies go, the device cookie stays. */
function newSession(browser: Browser) {
  browser.keepOnly([DEVICE_COOKIE]);
}

describe('risk signals on (the defaults)', () => {
  const bed = useRiskServer(undefined);

  it('a new device and a new network ask for a second factor although the app asked aal1; acr aal2 only when proven; the same device and network next time are not asked', async () => {
    const { server, config } = bed;
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const browser = new Browser(server.issuer, { 'user-agent': FIREFOX }, { localAddress: '127.0.0.2' });

    const started = await startAuthorization(config, { acr_values: 'aal1' });
    const page = await passwordLogin(browser, started, user.email, user.password);
    expect(stepOf(page)).toBe('totp');
    expect(reason(page)).toBe(`This is a new device and a new network for your account, so signing in to ${bed.clientId} needs ${SECOND_STEP}.`);
    const done = await browser.submit(page, '/totp', { code: await totp.code() });
    expect(isCallback(done)).toBe(true);
    const claims = (await finish(config, started, done.url)).claims()!;
    expect(claims.acr).toBe('aal2');
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp']));
    expect(await signalsOf(bed, user.id)).toEqual([
      { reason: 'new_device', demanded: 'aal2', outcome: 'applied' },
      { reason: 'new_network', demanded: 'aal2', outcome: 'applied' },
    ]);
    expect(bed.notifications(user.id)).toEqual([expect.objectContaining({ kind: 'new_device_sign_in', outcome: 'signed_in', signals: ['new_device', 'new_network'], network: '127.0.0.0/24', device: 'Firefox 140 on Linux', ip: '127.0.0.2' })]);
    const [device] = await server.app.stores.knownDevices.list(user.id);
    expect(device).toMatchObject({ description: 'Firefox 140 on Linux', lastNetwork: '127.0.0.0/24' });

    // the same device and network, a new session: no signal, and aal1 stays aal1 in the token
    newSession(browser);
    const again = await startAuthorization(config, { acr_values: 'aal1' });
    const back = await passwordLogin(browser, again, user.email, user.password);
    expect(isCallback(back)).toBe(true);
    const second = (await finish(config, again, back.url)).claims()!;
    expect(second.acr).toBe('aal1');
    expect(second.amr).toEqual(['pwd']);
    expect(await signalsOf(bed, user.id)).toEqual([]);
    expect(bed.notifications(user.id)).toHaveLength(1);
  });

  it('a step-up that ends by enrolling the first second factor makes its device known: the next sign-in from that browser is not asked', async () => {
    const { server, config } = bed;
    const user = await createUser(server.app); // a password only
    const browser = new Browser(server.issuer, { 'user-agent': FIREFOX }, { localAddress: '127.0.0.2' });
    // aal1: the signals fire but cannot be met (onUnreachable "notify"): the device stays unknown
    const first = await startAuthorization(config, { acr_values: 'aal1' });
    const signedIn = await passwordLogin(browser, first, user.email, user.password);
    expect(isCallback(signedIn)).toBe(true);
    await finish(config, first, signedIn.url);
    expect(await server.app.stores.knownDevices.list(user.id)).toEqual([]);
    // the app asks for aal2: the person adds an authenticator app inside the step-up (SPEC §4)
    const stepUp = await startAuthorization(config, { acr_values: 'aal2' });
    const choice = await browser.follow(stepUp.url.toString());
    expect(stepOf(choice)).toBe('enroll_choice');
    const { page: codes } = await enrollTotpInStepUp(browser, choice, Math.floor(Date.now() / 1000));
    expect(stepOf(codes)).toBe('recovery_codes');
    const done = await browser.submit(codes, `/interaction/${uidOf(codes)}`);
    expect(isCallback(done)).toBe(true);
    expect((await finish(config, stepUp, done.url)).claims()?.acr).toBe('aal2');
    expect(await server.app.stores.knownDevices.list(user.id)).toEqual([expect.objectContaining({ description: 'Firefox 140 on Linux', lastNetwork: '127.0.0.0/24' })]);
    // a new session in the same browser and network: nothing fires, no code is asked, aal1 stays aal1
    newSession(browser);
    const again = await startAuthorization(config, { acr_values: 'aal1' });
    const back = await passwordLogin(browser, again, user.email, user.password);
    expect(isCallback(back)).toBe(true);
    expect((await finish(config, again, back.url)).claims()?.acr).toBe('aal1');
  });

  it('the device cookie is random, signed, HttpOnly, SameSite=Lax, for 400 days; the database keeps only its digest', async () => {
    const { server, config } = bed;
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer);
    const first = await startAuthorization(config);
    const loginPage = await browser.follow(first.url.toString());
    const form = new URLSearchParams({ email: user.email, password: user.password, _csrf: /name="_csrf" value="([^"]+)"/.exec(loginPage.html)![1]! });
    const answer = await browser.request(new URL(/action="([^"]*\/password)"/.exec(loginPage.html)![1]!, server.issuer).toString(), { method: 'POST', body: form });
    const cookie = answer.headers.getSetCookie().find((c) => c.startsWith(`${DEVICE_COOKIE}=`))!;
    expect(cookie).toMatch(/^stepup\.device=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43};/);
    const expires = Date.parse(/expires=([^;]+)/i.exec(cookie)![1]!);
    expect(Math.abs(expires - (Date.now() + 400 * 86_400_000))).toBeLessThan(60_000);
    expect(cookie).toMatch(/httponly/i);
    expect(cookie).toMatch(/samesite=lax/i);
    const id = cookie.slice(DEVICE_COOKIE.length + 1).split('.')[0]!;
    const { rows } = (await server.app.stores.db.raw(`select count(*)::int as n from known_devices where device_digest = ?`, [id])) as { rows: Array<{ n: number }> };
    expect(rows[0]!.n).toBe(0);
    // a wrong password sets no device cookie: only a verification that identifies the account does
    const other = new Browser(server.issuer);
    const otherLogin = await other.follow((await startAuthorization(config)).url.toString());
    await other.submit(otherLogin, '/password', { email: user.email, password: 'wrong' });
    expect(other.cookie(DEVICE_COOKIE)).toBeUndefined();
  });

  it('a new network alone (the same device from another /24) asks again, and says so', async () => {
    const { server, config } = bed;
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const home = new Browser(server.issuer, {}, { localAddress: '127.0.0.2' });
    const first = await startAuthorization(config, { acr_values: 'aal1' });
    const done = await home.submit(await passwordLogin(home, first, user.email, user.password), '/totp', { code: await totp.code() });
    await finish(config, first, done.url);

    newSession(home);
    const away = new Browser(server.issuer, {}, { localAddress: '127.1.2.3' });
    away.setCookie(DEVICE_COOKIE, home.cookie(DEVICE_COOKIE)!);
    const started = await startAuthorization(config, { acr_values: 'aal1' });
    const page = await passwordLogin(away, started, user.email, user.password);
    expect(stepOf(page)).toBe('totp');
    expect(reason(page)).toBe(`You are signing in from a network new to your account, so signing in to ${bed.clientId} needs ${SECOND_STEP}.`);
    const back = await away.submit(page, '/totp', { code: await totp.code(Math.floor(Date.now() / 1000) + 30) });
    expect((await finish(config, started, back.url)).claims()?.acr).toBe('aal2');
    expect(await signalsOf(bed, user.id)).toEqual([{ reason: 'new_network', demanded: 'aal2', outcome: 'applied' }]);
  });

  it('without TRUST_PROXY a client X-Forwarded-For is ignored: the network does not change', async () => {
    const { server, config } = bed;
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const browser = new Browser(server.issuer, {}, { localAddress: '127.0.0.2' });
    const first = await startAuthorization(config, { acr_values: 'aal1' });
    await finish(config, first, (await browser.submit(await passwordLogin(browser, first, user.email, user.password), '/totp', { code: await totp.code() })).url);

    newSession(browser);
    browser.setHeader('x-forwarded-for', '198.51.100.7');
    const started = await startAuthorization(config, { acr_values: 'aal1' });
    const back = await passwordLogin(browser, started, user.email, user.password);
    expect(isCallback(back)).toBe(true);
    expect((await finish(config, started, back.url)).claims()?.acr).toBe('aal1');
    const networks = (await server.app.stores.db('known_networks').where({ account_id: user.id }).pluck('network')) as string[];
    expect(networks).toEqual(['127.0.0.0/24']);
  });

  it('recentFailures fires after 3 failures on the account from another IP, and not before', async () => {
    const { server, config } = bed;
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const owner = new Browser(server.issuer, {}, { localAddress: '127.0.0.2' });
    const first = await startAuthorization(config, { acr_values: 'aal1' });
    await finish(config, first, (await owner.submit(await passwordLogin(owner, first, user.email, user.password), '/totp', { code: await totp.code() })).url);

    const guess = async (times: number) => {
      for (let i = 0; i < times; i++) {
        const attacker = new Browser(server.issuer, {}, { localAddress: '127.1.2.3' });
        const page = await passwordLogin(attacker, await startAuthorization(config), user.email, 'wrong password');
        expect(page.status).toBe(401);
      }
    };
    const ownerSignsIn = async () => {
      newSession(owner);
      const started = await startAuthorization(config, { acr_values: 'aal1' });
      return { started, page: await passwordLogin(owner, started, user.email, user.password) };
    };

    await guess(2);
    const quiet = await ownerSignsIn();
    expect(isCallback(quiet.page)).toBe(true);
    expect((await finish(config, quiet.started, quiet.page.url)).claims()?.acr).toBe('aal1');

    // the owner's success ended that run; three more failures from elsewhere
    await guess(3);
    const asked = await ownerSignsIn();
    expect(stepOf(asked.page)).toBe('totp');
    expect(reason(asked.page)).toBe(`There were recent failed attempts to sign in to your account, so signing in to ${bed.clientId} needs ${SECOND_STEP}.`);
    const done = await owner.submit(asked.page, '/totp', { code: await totp.code(Math.floor(Date.now() / 1000) + 30) });
    expect((await finish(config, asked.started, done.url)).claims()?.acr).toBe('aal2');
    expect(await signalsOf(bed, user.id)).toEqual([{ reason: 'recent_failures', demanded: 'aal2', outcome: 'applied' }]);
  });

  it('onUnreachable "notify": a password-only account signs in at aal1, is notified, is never offered an enrollment, and its device stays new', async () => {
    const { server, config } = bed;
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer, { 'user-agent': FIREFOX }, { localAddress: '127.0.0.2' });
    for (let round = 0; round < 2; round++) {
      newSession(browser);
      const started = await startAuthorization(config, { acr_values: 'aal1' });
      const page = await passwordLogin(browser, started, user.email, user.password);
      // straight back to the app: no second-factor page and no enrollment page
      expect(isCallback(page)).toBe(true);
      expect((await finish(config, started, page.url)).claims()?.acr).toBe('aal1');
      expect(await signalsOf(bed, user.id)).toEqual([
        { reason: 'new_device', demanded: 'aal2', outcome: 'unreachable' },
        { reason: 'new_network', demanded: 'aal2', outcome: 'unreachable' },
      ]);
    }
    // a device becomes known only after a sign-in that met every demanded step: notified both times
    expect(bed.notifications(user.id).map((n) => n.outcome)).toEqual(['signed_in', 'signed_in']);
    expect(await server.app.stores.knownDevices.list(user.id)).toEqual([]);
    expect(await server.app.stores.factors.listForAccount(user.id)).toEqual([]);
    const audited = await server.app.stores.audit.list({ subject: user.id, type: 'risk.demand_unreachable' });
    expect(audited.map((e) => [e.outcome, e.reason])).toEqual([
      ['info', 'notify'],
      ['info', 'notify'],
    ]);
  });

  it('a request for "aal1 aal2" from a password-only account on a new device is not turned into an enrollment by the signal', async () => {
    const { server, config } = bed;
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer, {}, { localAddress: '127.0.0.2' });
    const started = await startAuthorization(config, { acr_values: 'aal1 aal2' });
    const page = await passwordLogin(browser, started, user.email, user.password);
    expect(isCallback(page)).toBe(true);
    expect((await finish(config, started, page.url)).claims()?.acr).toBe('aal1');
  });
});

describe('forgetting a device makes its next sign-in ask again', () => {
  const bed = useRiskServer(undefined);

  /** A user with TOTP whose browser at 127.0.0.2 has signed in once (so it is known). */
  async function knownDevice() {
    const { server, config } = bed;
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const browser = new Browser(server.issuer, { 'user-agent': FIREFOX }, { localAddress: '127.0.0.2' });
    const first = await startAuthorization(config, { acr_values: 'aal1' });
    await finish(config, first, (await browser.submit(await passwordLogin(browser, first, user.email, user.password), '/totp', { code: await totp.code(Math.floor(Date.now() / 1000) - 30) })).url);
    return { user, totp, browser };
  }
  async function asksAgain(browser: Browser, user: { email: string; password: string }) {
    newSession(browser);
    const started = await startAuthorization(bed.config, { acr_values: 'aal1' });
    const page = await passwordLogin(browser, started, user.email, user.password);
    expect(stepOf(page)).toBe('totp');
    expect(reason(page)).toMatch(/^This is a new device for your account, so signing in/);
  }

  it('on /account: "Your devices" lists it as this device; "Forget this device" forgets it (audited)', async () => {
    const { server } = bed;
    const { user, browser } = await knownDevice();
    newSession(browser);
    let page = await browser.follow('/account/devices');
    if (stepOf(page) === 'login') page = await browser.submit(page, '/password', { email: user.email, password: user.password });
    expect(page.url).toMatch(/\/account\/devices$/);
    expect(page.html).toContain('Firefox 140 on Linux');
    expect(page.html).toContain('(this device)');
    expect(page.html).toContain('Network 127.0.0.0/24');
    const [device] = await server.app.stores.knownDevices.list(user.id);
    const after = await browser.submit(page, `/account/devices/${device!.id}/forget`);
    expect(after.url).toMatch(/\/account\/devices\?notice=forgotten$/);
    expect(after.html).toContain('No devices yet.');
    expect((await server.app.stores.audit.list({ subject: user.id, type: 'device.forget' })).length).toBe(1);
    // a device id this account no longer has (forgotten, or another account's): nothing to forget
    const foreign = await browser.request(`/account/devices/${device!.id}/forget`, { method: 'POST', body: new URLSearchParams({ _csrf: /name="_csrf" value="([^"]+)"/.exec(after.html)![1]! }) });
    expect(foreign.status).toBe(404);
    await asksAgain(browser, user);
  });

  it('on /account: "Sign out everywhere" ends every session of the account (audited)', async () => {
    const { server } = bed;
    const { user, browser } = await knownDevice();
    let page = await browser.follow('/account/devices');
    if (stepOf(page) === 'login') page = await browser.submit(page, '/password', { email: user.email, password: user.password });
    const out = await browser.submit(page, '/account/sessions/revoke');
    expect(out.html).toContain('Every session of your account has ended');
    expect((await server.app.stores.audit.list({ subject: user.id, type: 'sessions.sign_out_everywhere' })).length).toBe(1);
    // this session too: the account page asks to sign in again
    const again = await browser.follow('/account/devices');
    expect(stepOf(again)).toBe('login');
  });

  it('in the admin UI: forget one device, or every device and network (audited with the admin as actor)', async () => {
    const { server } = bed;
    const { user, browser } = await knownDevice();
    const admin = await createAccountWithTotp(server.app, { admin: true });
    const adminBrowser = new Browser(server.issuer);
    await adminSignIn(adminBrowser, admin);
    const userPage = await adminBrowser.follow(`/admin/users/${user.id}`);
    expect(userPage.html).toContain(`/admin/users/${user.id}/devices`);
    const list = await adminBrowser.follow(`/admin/users/${user.id}/devices`);
    expect(list.html).toContain('Firefox 140 on Linux');
    const [device] = await server.app.stores.knownDevices.list(user.id);
    const forgotten = await adminBrowser.submit(list, `/devices/${device!.id}/forget`);
    expect(forgotten.html).toContain('No known devices.');
    const audited = await server.app.stores.audit.list({ subject: user.id, type: 'admin.device.forget' });
    expect(audited.map((e) => e.actor)).toEqual([admin.id]);
    await asksAgain(browser, user);

    // the network is still known (forgetting a device keeps it); forgetting everything drops it too
    expect(await server.app.stores.db('known_networks').where({ account_id: user.id }).pluck('network')).toEqual(['127.0.0.0/24']);
    const all = await adminBrowser.submit(await adminBrowser.follow(`/admin/users/${user.id}/devices`), '/devices/forget');
    expect(all.html).toContain('Every device and network forgotten');
    expect(await server.app.stores.db('known_networks').where({ account_id: user.id }).count<{ count: string }[]>('* as count')).toEqual([{ count: '0' }]);
    expect((await server.app.stores.audit.list({ subject: user.id, type: 'admin.devices.forget_all' })).length).toBe(1);
  });
});

describe('known devices and networks are bounded per account', () => {
  const bed = useRiskServer(undefined);

  it('an account keeps its most recently seen devices (50, plus the one just written)', async () => {
    const { server } = bed;
    const user = await createUser(server.app);
    const start = Math.floor(Date.now() / 1000) - 1000;
    for (let i = 0; i < 55; i++) {
      await server.app.stores.knownDevices.remember({ accountId: user.id, deviceDigest: `digest-${i}`, description: `Browser ${i}`, network: `10.0.${i}.0/24`, at: start + i });
    }
    const devices = await server.app.stores.knownDevices.list(user.id);
    expect(devices).toHaveLength(51);
    expect(devices[0]!.description).toBe('Browser 54');
    expect(devices.at(-1)!.description).toBe('Browser 4');
    expect(await server.app.stores.db('known_networks').where({ account_id: user.id }).count<{ count: string }[]>('* as count')).toEqual([{ count: '55' }]);
  });
});

describe('risk signals with onUnreachable "deny"', () => {
  const bed = useRiskServer({ onUnreachable: 'deny' });

  it('a password-only account on a new device is refused: access denied for the person, unmet_authentication_requirements for the app, nothing to enroll', async () => {
    const { server, config } = bed;
    const user = await createUser(server.app);
    const browser = new Browser(server.issuer, { 'user-agent': FIREFOX }, { localAddress: '127.0.0.2' });
    const started = await startAuthorization(config, { acr_values: 'aal1' });
    const page = await passwordLogin(browser, started, user.email, user.password);
    expect(page.status).toBe(403);
    expect(stepOf(page)).toBe('refused');
    expect(reason(page)).toContain('This is a new device and a new network for your account, and your account has no second step');
    expect(page.html).toContain('access_denied');
    const uid = /\/interaction\/([^/"]+)/.exec(started.url.toString()) ?? /interaction\/([A-Za-z0-9_-]+)/.exec(page.html);
    const back = await browser.follow(decodeEntities(/href="([^"]+)" data-action="return"/.exec(page.html)![1]!));
    expect(isCallback(back)).toBe(true);
    const callback = new URL(back.url);
    expect(callback.searchParams.get('error')).toBe('unmet_authentication_requirements');
    // the interaction is over: an enrollment posted to it finds nothing to enroll into
    if (uid?.[1]) {
      const enroll = await browser.request(`/interaction/${uid[1]}/enroll/totp`, { method: 'POST', body: new URLSearchParams({ code: '000000' }) });
      expect([400, 403]).toContain(enroll.status);
    }
    expect(await server.app.stores.factors.listForAccount(user.id)).toEqual([]);
    expect(bed.notifications(user.id)).toEqual([expect.objectContaining({ kind: 'new_device_sign_in', outcome: 'refused' })]);
    const audited = await server.app.stores.audit.list({ subject: user.id, type: 'risk.demand_unreachable' });
    expect(audited.map((e) => [e.outcome, e.reason])).toEqual([['failure', 'deny']]);
  });

  it('an account with a second factor is asked for it, not refused', async () => {
    const { server, config } = bed;
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const browser = new Browser(server.issuer, {}, { localAddress: '127.0.0.2' });
    const started = await startAuthorization(config, { acr_values: 'aal1' });
    const page = await passwordLogin(browser, started, user.email, user.password);
    expect(stepOf(page)).toBe('totp');
    const done = await browser.submit(page, '/totp', { code: await totp.code() });
    expect((await finish(config, started, done.url)).claims()?.acr).toBe('aal2');
  });
});

describe('risk signals behind a proxy (TRUST_PROXY)', () => {
  const bed = useRiskServer(undefined, { TRUST_PROXY: 'true' });

  it("only the proxy's appended X-Forwarded-For entry counts", async () => {
    const { server, config } = bed;
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const browser = new Browser(server.issuer, { 'x-forwarded-for': '198.51.100.7' });
    const first = await startAuthorization(config, { acr_values: 'aal1' });
    const asked = await passwordLogin(browser, first, user.email, user.password);
    expect(stepOf(asked)).toBe('totp');
    await finish(config, first, (await browser.submit(asked, '/totp', { code: await totp.code() })).url);
    expect(await server.app.stores.db('known_networks').where({ account_id: user.id }).pluck('network')).toEqual(['198.51.100.0/24']);

    // the client claims a known network first; the proxy appends the real one, new: asked
    newSession(browser);
    browser.setHeader('x-forwarded-for', '198.51.100.7, 203.0.113.9');
    const spoofed = await startAuthorization(config, { acr_values: 'aal1' });
    const page = await passwordLogin(browser, spoofed, user.email, user.password);
    expect(stepOf(page)).toBe('totp');
    expect(reason(page)).toMatch(/^You are signing in from a network new to your account/);

    // the client claims a new network first; the proxy appends the known one: not asked
    newSession(browser);
    browser.setHeader('x-forwarded-for', '203.0.113.9, 198.51.100.7');
    const honest = await startAuthorization(config, { acr_values: 'aal1' });
    const back = await passwordLogin(browser, honest, user.email, user.password);
    expect(isCallback(back)).toBe(true);
    expect((await finish(config, honest, back.url)).claims()?.acr).toBe('aal1');
  });
});
