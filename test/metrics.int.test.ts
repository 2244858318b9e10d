import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashRecoveryCode, newRecoveryCodes } from '../src/factors/recovery-codes/recovery-codes.js';
import { adminApiToken, api } from './support/admin.js';
import { Browser, type Page } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { moved, parseExposition, scrape } from './support/metrics.js';
import { createConfidentialClient, createUser, discover, finish, isCallback, passwordLogin, RP_REDIRECT, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';
import { stepOf, uidOf } from './support/steps.js';

/**
 * Issue #17: Prometheus metrics on the management listener (never the public port), counted from
 * what really happened, with label values from declared bounded sets only.
 */
const iso = newIsolation();
let server: RunningServer;
let redisDown: RunningServer;
let rp: { clientId: string; clientSecret: string };
let config: oidc.Configuration;

beforeAll(async () => {
  server = await startServer(iso);
  rp = await createConfidentialClient(server.app);
  config = await discover(server.issuer, rp.clientId, rp.clientSecret);
});
afterAll(async () => {
  await server?.close();
  await redisDown?.close();
  await dropIsolation(iso);
});

/** A TOTP code that is not the current one (its last digit moved). */
const wrong = (code: string) => code.slice(0, 5) + String((Number(code[5]) + 1) % 10);
/** Every counter of stepup's own (not the HTTP or ping histograms, checked on their own). */
const COUNTERS = /^stepup_.*_total$/;

async function signInWithTotp(req: { scope?: string; prompt?: string } = {}) {
  const user = await createUser(server.app);
  const totp = await enrollTotp(server.app, user.id);
  const browser = new Browser(server.issuer);
  const started = await startAuthorization(config, { acr_values: 'aal2', ...req });
  const login = await browser.follow(started.url.toString());
  const totpPage = await browser.submit(login, '/password', { email: user.email, password: user.password });
  expect(stepOf(totpPage)).toBe('totp');
  return { user, totp, browser, started, totpPage };
}

describe('the counters move by exactly what happened', () => {
  it('a password + TOTP sign-in with one refused code', async () => {
    const before = await scrape(server.managementUrl);

    const { user, totp, browser, started, totpPage } = await signInWithTotp();
    const refused = await browser.submit(totpPage, '/totp', { code: wrong(await totp.code()) });
    expect(refused.status).toBe(401);
    const callback: Page = await browser.submit(refused, '/totp', { code: await totp.code() });
    expect(isCallback(callback)).toBe(true);
    const tokens = await finish(config, started, callback.url);
    expect(tokens.claims()!.acr).toBe('aal2');

    const after = await scrape(server.managementUrl);
    expect(moved(before.series, after.series, COUNTERS)).toEqual({
      'stepup_factor_verifications_total{factor=password,outcome=success}': 1,
      'stepup_factor_verifications_total{factor=totp,outcome=failure}': 1,
      'stepup_factor_verifications_total{factor=totp,outcome=success}': 1,
      'stepup_sign_ins_total{outcome=success}': 1,
      'stepup_decisions_total{acr=aal2,outcome=satisfied,reason=target_reached}': 1,
      'stepup_tokens_issued_total{acr=aal2,grant_type=authorization_code,token=access_token}': 1,
      'stepup_tokens_issued_total{acr=aal2,grant_type=authorization_code,token=id_token}': 1,
      'stepup_tokens_issued_total{acr=aal2,grant_type=authorization_code,token=refresh_token}': 1,
      'stepup_audit_events_total{outcome=success,type=login.password}': 1,
      'stepup_audit_events_total{outcome=failure,type=login.totp}': 1,
      'stepup_audit_events_total{outcome=success,type=login.totp}': 1,
      'stepup_audit_events_total{outcome=success,type=stepup.decision}': 1,
    });
    // the audit trail tells the same story, event for event
    const trail = (await server.app.stores.audit.list({ subject: user.id })).map((e) => `${e.type} ${e.outcome}`).sort();
    expect(trail).toEqual(['login.password success', 'login.totp failure', 'login.totp success', 'stepup.decision success']);

    // one request per page, each under its route template (never the uid), with its status
    expect(moved(before.series, after.series, /^stepup_http_request_duration_seconds_count$/)).toEqual({
      'stepup_http_request_duration_seconds_count{method=GET,route=/auth,status=303}': 1,
      'stepup_http_request_duration_seconds_count{method=GET,route=/interaction/:uid,status=200}': 2,
      'stepup_http_request_duration_seconds_count{method=POST,route=/interaction/:uid/password,status=303}': 1,
      'stepup_http_request_duration_seconds_count{method=POST,route=/interaction/:uid/totp,status=401}': 1,
      'stepup_http_request_duration_seconds_count{method=POST,route=/interaction/:uid/totp,status=303}': 1,
      'stepup_http_request_duration_seconds_count{method=GET,route=/auth/:uid,status=303}': 1,
      'stepup_http_request_duration_seconds_count{method=POST,route=/token,status=200}': 1,
    });
  });

  it('a consent after the sign-in (prompt=consent, offline_access) does not count the sign-in twice', async () => {
    const before = await scrape(server.managementUrl);
    const { totp, browser, started, totpPage } = await signInWithTotp({ scope: 'openid offline_access', prompt: 'consent' });
    const callback = await browser.submit(totpPage, '/totp', { code: await totp.code() });
    expect(isCallback(callback)).toBe(true);
    await finish(config, started, callback.url);
    const after = await scrape(server.managementUrl);
    const delta = moved(before.series, after.series, COUNTERS);
    expect(delta['stepup_audit_events_total{outcome=success,type=consent.recorded}']).toBe(1);
    expect(delta['stepup_sign_ins_total{outcome=success}']).toBe(1);
    expect(Object.keys(delta).filter((k) => k.startsWith('stepup_step_ups_total'))).toEqual([]);
  });

  it('a step-up with a lockout, a refusal while locked, then a recovery code', async () => {
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const codes = newRecoveryCodes();
    await server.app.stores.recoveryCodes.replace(user.id, codes.map(hashRecoveryCode));
    const browser = new Browser(server.issuer);
    await finish(config, ...(await (async () => {
      const started = await startAuthorization(config);
      return [started, (await passwordLogin(browser, started, user.email, user.password)).url] as const;
    })()));

    const before = await scrape(server.managementUrl);
    const started = await startAuthorization(config, { acr_values: 'aal2' });
    let page = await browser.follow(started.url.toString());
    expect(stepOf(page)).toBe('totp');
    let failures = 0;
    for (; page.status !== 429 && failures < 10; failures++) page = await browser.submit(page, '/totp', { code: wrong(await totp.code()) });
    expect(page.status).toBe(429);
    // the wrong codes counted, the last of which started the lockout; then one refused unchecked
    failures -= 1;
    page = await browser.submit(page, `/interaction/${uidOf(page)}`, { use: 'recovery_code' });
    const used = await browser.submit(page, '/recovery', { code: codes[0]! });
    expect(used.html).toMatch(/9 recovery codes left/);
    const callback = await browser.submit(used, `/interaction/${uidOf(used)}`);
    expect(isCallback(callback)).toBe(true);
    expect((await finish(config, started, callback.url)).claims()!.acr).toBe('aal2');

    const delta = moved(before.series, (await scrape(server.managementUrl)).series, COUNTERS);
    expect(delta).toMatchObject({
      'stepup_decisions_total{acr=aal2,outcome=step_up,reason=level_not_held}': 1,
      'stepup_decisions_total{acr=aal2,outcome=satisfied,reason=target_reached}': 1,
      'stepup_step_ups_total{acr=aal2,outcome=success}': 1,
      'stepup_factor_verifications_total{factor=totp,outcome=failure}': failures,
      'stepup_factor_verifications_total{factor=totp,outcome=locked_out}': 1,
      'stepup_lockouts_total{factor=totp}': 1,
      'stepup_factor_verifications_total{factor=recovery_code,outcome=success}': 1,
      'stepup_recovery_codes_used_total{}': 1,
    });
    expect(Object.keys(delta).filter((k) => k.startsWith('stepup_sign_ins_total'))).toEqual([]);
  });

  it('a replayed authorization code and a replayed refresh token are counted (and refused)', async () => {
    // two sign-ins: a replayed code revokes its whole grant, refresh tokens included
    const signedIn = async () => {
      const { totp, browser, started, totpPage } = await signInWithTotp();
      const callback = await browser.submit(totpPage, '/totp', { code: await totp.code() });
      return { started, callback, tokens: await finish(config, started, callback.url) };
    };
    const first = await signedIn();
    const second = await signedIn();
    const before = await scrape(server.managementUrl);

    const replay = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: new URL(first.callback.url).searchParams.get('code')!, redirect_uri: RP_REDIRECT, code_verifier: first.started.verifier }),
    });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });

    const refreshed = await oidc.refreshTokenGrant(config, second.tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
    await expect(oidc.refreshTokenGrant(config, second.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    const delta = moved(before.series, (await scrape(server.managementUrl)).series, COUNTERS);
    expect(delta).toEqual({
      'stepup_token_replays_total{grant_type=authorization_code}': 1,
      'stepup_token_replays_total{grant_type=refresh_token}': 1,
      'stepup_tokens_issued_total{acr=aal2,grant_type=refresh_token,token=access_token}': 1,
      'stepup_tokens_issued_total{acr=aal2,grant_type=refresh_token,token=id_token}': 1,
      'stepup_tokens_issued_total{acr=aal2,grant_type=refresh_token,token=refresh_token}': 1,
    });
  });
});

describe('where the metrics are served', () => {
  it('the public port answers 404 on /metrics; the management listener serves /metrics, /healthz and /readyz on 127.0.0.1', async () => {
    for (const path of ['/metrics', '/metrics/', '/METRICS']) expect((await fetch(`${server.issuer}${path}`)).status).toBe(404);
    // SPEC §5: the public health endpoints stay
    expect((await fetch(`${server.issuer}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.issuer}/readyz`)).status).toBe(200);

    // MANAGEMENT_HOST's default: loopback only
    expect(new URL(server.managementUrl).hostname).toBe('127.0.0.1');
    const metrics = await fetch(`${server.managementUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await (await fetch(`${server.managementUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${server.managementUrl}/readyz`)).json()).toMatchObject({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
    // nothing else: no sign-in page, no OIDC endpoint
    for (const path of ['/', '/auth', '/.well-known/openid-configuration', '/admin']) expect((await fetch(`${server.managementUrl}${path}`)).status).toBe(404);
  });

  it('the process metrics and the stores\' state are there', async () => {
    const { series } = await scrape(server.managementUrl);
    expect(series.get('stepup_store_up{store=postgres}')).toBe(1);
    expect(series.get('stepup_store_up{store=redis}')).toBe(1);
    expect(series.get('stepup_store_ping_duration_seconds_count{store=postgres}')).toBeGreaterThan(0);
    expect(series.get('process_cpu_seconds_total{}')).toBeGreaterThan(0);
    expect(series.get('nodejs_heap_size_used_bytes{}')).toBeGreaterThan(0);
  });

  it('the outbox: a mail that cannot be sent is a counted failure and waits as depth', async () => {
    const isoMail = newIsolation();
    // a mail server that is not there; the first retry far away, so the entry stays pending
    const mailDown = await startServer(isoMail, { SMTP_URL: 'smtp://127.0.0.1:1' }, { outbox: { pollMs: 50, backoff: () => 600_000 } });
    try {
      expect((await scrape(mailDown.managementUrl)).series.get('stepup_outbox_messages{channel=email,state=pending}')).toBe(0);
      const user = await createUser(mailDown.app);
      const { token } = await adminApiToken(mailDown.app, mailDown.issuer);
      expect((await api(mailDown.issuer, token, 'POST', `/users/${user.id}/disable`, {})).status).toBe(200);
      let series = (await scrape(mailDown.managementUrl)).series;
      for (let i = 0; i < 100 && !series.get('stepup_outbox_delivery_failures_total{channel=email}'); i++) {
        await new Promise((r) => setTimeout(r, 50));
        series = (await scrape(mailDown.managementUrl)).series;
      }
      expect(series.get('stepup_outbox_delivery_failures_total{channel=email}')).toBe(1);
      expect(series.get('stepup_outbox_messages{channel=email,state=pending}')).toBe(1);
      expect(series.get('stepup_outbox_messages{channel=email,state=dead}')).toBe(0);
      expect(series.get('stepup_outbox_messages{channel=webhook,state=pending}')).toBe(0);
    } finally {
      await mailDown.close();
      await dropIsolation(isoMail);
    }
  });

  it('a store that is down shows as down, and its errors are counted', async () => {
    redisDown = await startServer(iso, { REDIS_URL: 'redis://127.0.0.1:1' });
    const { series } = await scrape(redisDown.managementUrl);
    expect(series.get('stepup_store_up{store=redis}')).toBe(0);
    expect(series.get('stepup_store_up{store=postgres}')).toBe(1);
    expect(series.get('stepup_store_errors_total{kind=unavailable,store=redis}')).toBeGreaterThan(0);
    expect((await fetch(`${redisDown.managementUrl}/readyz`)).status).toBe(503);
  });
});

describe('label values', () => {
  it('every label value of every stepup_ metric comes from its declared bounded set, whatever clients send', async () => {
    // what a scanner or a hostile client sends: odd paths, methods, parameters and grant types
    const hostile = `x${'<script>'.repeat(3)}-${Date.now()}`;
    await fetch(`${server.issuer}/${hostile}`);
    await fetch(`${server.issuer}/interaction/${hostile}/totp`, { method: 'POST' });
    await fetch(`${server.issuer}/auth?client_id=${hostile}&acr_values=${hostile}&response_type=code`);
    await fetch(`${server.issuer}/healthz`, { method: 'PROPFIND' });
    await fetch(`${server.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: hostile, client_id: rp.clientId, client_secret: rp.clientSecret }) });
    const started = await startAuthorization(config, { acr_values: `${hostile} aal1` });
    await new Browser(server.issuer).follow(started.url.toString());

    const { text } = await scrape(server.managementUrl);
    expect(text).not.toContain(hostile);
    expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/); // no account or factor id
    expect(text).not.toContain('@example.com');
    const declared = server.app.metrics.labelValues;
    let checked = 0;
    for (const sample of parseExposition(text).filter((s) => s.name.startsWith('stepup_'))) {
      const base = sample.name.replace(/_(bucket|sum|count)$/, '');
      const sets = declared[base] ?? declared[sample.name];
      expect({ metric: sample.name, declared: Boolean(sets) }).toEqual({ metric: sample.name, declared: true });
      for (const [label, value] of Object.entries(sample.labels)) {
        if (label === 'le') continue;
        expect({ metric: base, label, value, allowed: sets![label]?.includes(value) }).toEqual({ metric: base, label, value, allowed: true });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
    // the odd requests are there, as `other`
    expect(text).toMatch(/stepup_http_request_duration_seconds_count\{route="other",method="GET",status="404"\}/);
    expect(text).toMatch(/stepup_http_request_duration_seconds_count\{route="\/healthz",method="other",status="\d+"\}/);
  });
});
