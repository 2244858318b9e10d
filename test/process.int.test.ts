import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import * as oidc from 'openid-client';
import { Browser } from './support/browser.js';
import { createIsolationSchema, dropIsolation, newIsolation, testEnv } from './support/env.js';
import { freePort, runCli, startServerProcess } from './support/process.js';
import { finish, isCallback, passwordLogin, startAuthorization } from './support/rp.js';

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
  it('starts, prints the demo user and a sign-in URL, serves discovery and completes a login', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'stepup-embedded-'));
    const port = await freePort();
    const issuer = `http://localhost:${port}`;
    const server = await startServerProcess({ ISSUER: issuer, DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, port, 120_000);
    try {
      for (let i = 0; i < 50 && !server.output().includes('Demo password'); i++) await new Promise((r) => setTimeout(r, 100));
      const out = server.output();
      const password = /Demo password: (\S+)/.exec(out)![1]!;
      const signIn = /Sign in:\s+(\S+)/.exec(out)![1]!;
      expect(out).toContain('demo@example.com');
      expect(signIn.startsWith(`${issuer}/auth?`)).toBe(true);

      const browser = new Browser(issuer);
      const printed = await browser.follow(signIn);
      expect(printed.html).toContain('autocomplete="current-password"');

      const config = await oidc.discovery(new URL(issuer), 'demo', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
      expect(config.serverMetadata().issuer).toBe(issuer);
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `${issuer}/demo/callback`,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'demo-state',
      });
      const loginPage = await browser.follow(url.toString());
      const callback = await browser.submit(loginPage, '/password', { email: 'demo@example.com', password });
      const tokens = await oidc.authorizationCodeGrant(config, new URL(callback.url), { pkceCodeVerifier: verifier, expectedState: 'demo-state' });
      expect(tokens.claims()!.acr).toBe('aal1');

      // the CLI works next to the running server (through its embedded Postgres socket)
      const env = { ISSUER: issuer, DATA_DIR: dataDir };
      const created = await runCli(['client', 'create', '--id', 'side-app', '--secret', 'x'.repeat(40), '--redirect-uri', 'http://rp.localhost/callback'], env);
      expect(created.code).toBe(0);
      expect((await runCli(['user', 'list'], env)).stdout).toContain('demo@example.com');
      const side = await oidc.discovery(new URL(issuer), 'side-app', 'x'.repeat(40), undefined, { execute: [oidc.allowInsecureRequests] });
      const sideStart = await startAuthorization(side);
      const sideLogin = await new Browser(issuer).follow(sideStart.url.toString());
      expect(sideLogin.html).toContain('autocomplete="current-password"');
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
