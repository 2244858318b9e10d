import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import * as oidc from 'openid-client';
import { Browser, decodeEntities } from './support/browser.js';
import { createIsolationSchema, dropIsolation, newIsolation, testEnv } from './support/env.js';
import { freePort, runCli, startServerProcess } from './support/process.js';
import { finish, isCallback, passwordLogin, startAuthorization } from './support/rp.js';
import { enrollTotpInStepUp, stepOf, uidOf } from './support/steps.js';
import { totpCodeAt } from '../src/factors/totp/totp.js';

/** The server and CLI as separate processes, started the way the README says. */
const iso = newIsolation();
jest.setTimeout(120_000); // each step starts a real process
beforeAll(() => createIsolationSchema(iso));
afterAll(() => dropIsolation(iso));

const PASSWORD = 'a long enough password';

describe('CLI (SPEC §7)', () => {
  const env = testEnv(iso, 'http://localhost:3999');

  it('migrates, creates and lists users and clients, and rotates keys', async () => {
    expect((await runCli(['migrate'], env)).code).toBe(0);

    const created = await runCli(['user', 'create', '--email', 'Cli.User@Example.com', '--name', 'Cli User', '--admin'], env, `${PASSWORD}\n`);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ email: 'cli.user@example.com', name: 'Cli User', admin: true });
    expect(created.stdout).not.toContain(PASSWORD);

    const list = await runCli(['user', 'list'], env);
    expect(list.stdout).toContain('cli.user@example.com');

    const client = await runCli(
      ['client', 'create', '--id', 'cli-app', '--secret', 's'.repeat(40), '--redirect-uri', 'https://app.example.com/cb', '--redirect-uri', 'https://app.example.com/cb2', '--minimum-acr', 'aal2', '--scope', 'openid email'],
      env,
    );
    expect(client.code).toBe(0);
    expect(JSON.parse(client.stdout)).toMatchObject({
      client_id: 'cli-app',
      client_type: 'confidential',
      redirect_uris: ['https://app.example.com/cb', 'https://app.example.com/cb2'],
      minimum_acr: 'aal2',
      scope: 'openid email',
    });
    const clients = await runCli(['client', 'list'], env);
    expect(clients.stdout).toContain('cli-app');
    expect(clients.stdout).not.toContain('s'.repeat(40));

    const rotated = await runCli(['keys', 'rotate'], env);
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout).added).toHaveLength(2);
  });

  it.each([
    [['user', 'create'], 'email'],
    [['user', 'create', '--email', 'short@example.com'], 'at least 8'],
    [['client', 'create', '--id', 'x'], '--redirect-uri is required'],
    [['client', 'create', '--id', 'y', '--redirect-uri', 'not a url'], 'not an absolute URL'],
    [['client', 'create', '--id', 'z', '--redirect-uri', 'https://a.example/cb', '--minimum-acr', 'gold'], 'unknown --minimum-acr'],
    [['client', 'create', '--id', 'svc', '--grant-type', 'client_credentials'], 'confidential'],
    [['client', 'create', '--id', 'w', '--bogus'], 'bogus'],
    [['client', 'create', '--id', 'stepup-admin', '--redirect-uri', 'https://a.example/cb'], 'reserved for a built-in client'],
    [['client', 'create', '--id', 'stepup-account', '--redirect-uri', 'https://a.example/cb'], 'reserved for a built-in client'],
    [['frobnicate'], 'unknown command'],
  ])('rejects %j with a one-line reason and a non-zero exit', async (args, reason) => {
    const result = await runCli(args, env, 'short\n');
    expect(result.code).not.toBe(0);
    const firstLine = result.stderr.split('\n')[0]!;
    expect(firstLine).toMatch(/^stepup: /);
    expect(firstLine).toContain(reason);
  });

  it('sets a password (stdin or file, common ones refused, optionally to be changed at next sign-in) and updates email and admin role (issue #15)', async () => {
    expect((await runCli(['user', 'create', '--email', 'setpw@example.com'], env, PASSWORD)).code).toBe(0);
    const common = await runCli(['user', 'set-password', '--email', 'setpw@example.com'], env, 'baseball\n');
    expect(common.code).toBe(2);
    expect(common.stderr).toContain('most common');
    const unknown = await runCli(['user', 'set-password', '--email', 'nobody@example.com'], env, 'a fine new passphrase\n');
    expect(unknown.stderr).toContain('no account');
    const file = join(mkdtempSync(join(tmpdir(), 'stepup-pw-')), 'pw');
    writeFileSync(file, 'a fine new passphrase\n', { mode: 0o600 });
    const set = await runCli(['user', 'set-password', '--email', 'setpw@example.com', '--password-file', file, '--must-change'], env);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ email: 'setpw@example.com', password_change_required: true });
    expect(set.stdout).not.toContain('a fine new passphrase');

    const promoted = await runCli(['user', 'update', '--email', 'setpw@example.com', '--admin', '--new-email', 'SetPw2@example.com'], env);
    expect(JSON.parse(promoted.stdout)).toMatchObject({ email: 'setpw2@example.com', admin: true });
    const demoted = await runCli(['user', 'update', '--email', 'setpw2@example.com', '--no-admin'], env);
    expect(JSON.parse(demoted.stdout)).toMatchObject({ admin: false });
    expect((await runCli(['user', 'update', '--email', 'setpw2@example.com'], env)).stderr).toContain('nothing to change');
  });

  it('refuses a duplicate user', async () => {
    const args = ['user', 'create', '--email', 'dup@example.com'];
    expect((await runCli(args, env, PASSWORD)).code).toBe(0);
    const again = await runCli(args, env, PASSWORD);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
  });
});

describe('restarts keep sessions (Redis) and tokens valid (keys in Postgres)', () => {
  it('a signed-in user stays signed in and old tokens still verify after SIGTERM and a new start', async () => {
    const port = await freePort();
    const issuer = `http://localhost:${port}`;
    const env = testEnv(iso, issuer);
    const clientId = 'restart-rp';
    const secret = 'r'.repeat(40);
    await runCli(['client', 'create', '--id', clientId, '--secret', secret, '--redirect-uri', 'http://rp.localhost/callback'], env);
    await runCli(['user', 'create', '--email', 'restart@example.com'], env, PASSWORD);

    let server = await startServerProcess(env, port);
    const config = await oidc.discovery(new URL(issuer), clientId, secret, undefined, { execute: [oidc.allowInsecureRequests] });
    const browser = new Browser(issuer);
    const first = await startAuthorization(config);
    const tokens = await finish(config, first, (await passwordLogin(browser, first, 'restart@example.com', PASSWORD)).url);

    expect(await server.stop()).toBe(0); // graceful exit on SIGTERM
    server = await startServerProcess(env, port);
    try {
      const again = await startAuthorization(config);
      const page = await browser.follow(again.url.toString());
      expect(isCallback(page)).toBe(true); // no login page: the session survived
      const second = await finish(config, again, page.url); // ID token verified with the stored keys
      expect(second.claims()!.sub).toBe(tokens.claims()!.sub);
      expect(await oidc.tokenIntrospection(config, tokens.access_token)).toMatchObject({ active: true });
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.claims()!.auth_time).toBe(tokens.claims()!.auth_time);
    } finally {
      await server.stop();
    }
  });
});

describe('embedded default (no DATABASE_URL, no REDIS_URL)', () => {
  const printed = (out: string, name: string) => new RegExp(`${name}:\\s+(\\S+)`).exec(out)?.[1];
  const waitForDemo = async (server: { output(): string }) => {
    for (let i = 0; i < 100 && !server.output().includes('Demo password'); i++) await new Promise((r) => setTimeout(r, 100));
    return server.output();
  };

  it('with only PORT set prints links that work; the demo app shows acr/amr/auth_time, a step-up to aal2 updates them; a restart on another port keeps the links working', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'stepup-embedded-'));
    const port = await freePort();
    const issuer = `http://localhost:${port}`;
    // issue #15: no ISSUER, only PORT: every printed link and discovery use that port
    let server = await startServerProcess({ DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, port, 120_000);
    try {
      const out = await waitForDemo(server);
      const password = printed(out, 'Demo password')!;
      expect(out).toContain('demo@example.com');
      expect(printed(out, 'Issuer')).toBe(issuer);
      expect(printed(out, 'Sign in')).toBe(`${issuer}/demo`);
      expect(printed(out, 'Try aal2')).toBe(`${issuer}/demo?acr_values=aal2`);
      // no warning from oidc-provider on a supported runtime (Node 22 LTS or later); this machine may run older
      if (Number(process.versions.node.split('.')[0]) >= 22) expect(out).not.toContain('Unsupported runtime');

      const config = await oidc.discovery(new URL(issuer), 'demo', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
      expect(config.serverMetadata().issuer).toBe(issuer);

      // the printed sign-in link: the demo app redeems the code itself and shows the claims in words
      const browser = new Browser(issuer);
      const loginPage = await browser.follow(printed(out, 'Sign in')!);
      expect(loginPage.html).toContain('autocomplete="current-password"');
      const signedIn = await browser.submit(loginPage, '/password', { email: 'demo@example.com', password });
      expect(signedIn.url).toMatch(new RegExp(`^${issuer}/demo/callback`));
      expect(signedIn.html).toContain('data-demo="signed-in"');
      expect(/data-claim="acr">([^<]+)</.exec(signedIn.html)![1]).toBe('aal1');
      expect(/data-claim="amr">([\s\S]*?)<\/dd>/.exec(signedIn.html)![1]).toContain('<code>pwd</code> a password');
      const firstAuthTime = /data-claim="auth_time">([^<]+)</.exec(signedIn.html)![1]!;
      expect(firstAuthTime).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
      expect(signedIn.html).toContain('data-demo="sign-out"');

      // "Try aal2": the demo user has no second factor yet, so it enrolls an authenticator app on the way
      const tryAal2 = decodeEntities(/href="([^"]+)" data-try="aal2"/.exec(signedIn.html)![1]!);
      const choice = await browser.follow(tryAal2);
      expect(stepOf(choice)).toBe('enroll_choice');
      const { page: codesPage, secret } = await enrollTotpInStepUp(browser, choice, Math.floor(Date.now() / 1000));
      const stepped = await browser.submit(codesPage, `/interaction/${uidOf(codesPage)}`);
      expect(stepped.url).toMatch(new RegExp(`^${issuer}/demo/callback`));
      expect(/data-claim="acr">([^<]+)</.exec(stepped.html)![1]).toBe('aal2');
      const amr = /data-claim="amr">([\s\S]*?)<\/dd>/.exec(stepped.html)![1]!;
      expect(amr).toContain('<code>otp</code>');
      expect(amr).toContain('<code>mfa</code>');

      // the CLI works next to the running server (through its embedded Postgres socket)
      const env = { DATA_DIR: dataDir, PORT: String(port) };
      const created = await runCli(['client', 'create', '--id', 'side-app', '--secret', 'x'.repeat(40), '--redirect-uri', 'http://rp.localhost/callback'], env);
      expect(created.code).toBe(0);
      expect((await runCli(['user', 'list'], env)).stdout).toContain('demo@example.com');
      const side = await oidc.discovery(new URL(issuer), 'side-app', 'x'.repeat(40), undefined, { execute: [oidc.allowInsecureRequests] });
      const sideStart = await startAuthorization(side);
      const sideLogin = await new Browser(issuer).follow(sideStart.url.toString());
      expect(sideLogin.html).toContain('autocomplete="current-password"');

      // a restart on another port: the demo client's redirect URI follows, so the printed link still works
      expect(await server.stop()).toBe(0);
      const port2 = await freePort();
      const issuer2 = `http://localhost:${port2}`;
      server = await startServerProcess({ DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, port2, 120_000);
      const out2 = await waitForDemo(server);
      expect(printed(out2, 'Sign in')).toBe(`${issuer2}/demo`);
      const again = new Browser(issuer2);
      const login2 = await again.follow(printed(out2, 'Sign in')!);
      expect(login2.html).toContain('autocomplete="current-password"');
      // the embedded default has issue #16's risk signals on: a browser new to the account (which now has
      // an authenticator app) is asked for its code although the demo app asked for nothing, and says why;
      // the network is known already (the first browser's step-up, on the same loopback network, met its demands)
      const codePage = await again.submit(login2, '/password', { email: 'demo@example.com', password: printed(out2, 'Demo password')! });
      expect(stepOf(codePage)).toBe('totp');
      expect(codePage.html).toContain('This is a new device for your account');
      const signedIn2 = await again.submit(codePage, '/totp', { code: await totpCodeAt(secret, Math.floor(Date.now() / 1000) + 30) });
      expect(signedIn2.url).toMatch(new RegExp(`^${issuer2}/demo/callback`));
      // the signal raised what was required; the token says what was proven
      expect(/data-claim="acr">([^<]+)</.exec(signedIn2.html)![1]).toBe('aal2');
    } finally {
      expect(await server.stop()).toBe(0);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('production mode', () => {
  it('refuses to start without the required variables, naming them', async () => {
    const result = await runCli(['serve'], { NODE_ENV: 'production', DATABASE_URL: 'postgres://x@127.0.0.1/x' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('REDIS_URL');
    expect(result.stderr).toContain('COOKIE_KEYS');
    expect(result.stderr).toContain('ENCRYPTION_KEY');
    expect(result.stderr).not.toContain('DATABASE_URL,');
  });

  it('refuses a bad ENCRYPTION_KEY saying why', async () => {
    const result = await runCli(['migrate'], { ENCRYPTION_KEY: 'abc' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ENCRYPTION_KEY');
    expect(result.stderr).toContain('64 hex');
  });
});
