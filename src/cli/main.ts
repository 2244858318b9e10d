#!/usr/bin/env node
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ACCOUNT_CLIENT_ID } from '../account/internal-client.js';
import { ADMIN_CLIENT_ID } from '../admin/internal-client.js';
import { loadPolicy } from '../config/policy-file.js';
import { ConfigError, loadConfig, type Config } from '../config/env.js';
import { hashPassword, passwordPolicyError } from '../factors/password/password.js';
import { DEFAULT_ID_TOKEN_SIGNING_ALG, isSigningAlgorithm, rotateSigningKeys, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../oidc/signing-keys.js';
import { createLogger } from '../ops/logger.js';
import { demoInstructions, ensureDemo } from '../ops/demo.js';
import { DuplicateEmailError } from '../store/accounts.repo.js';
import { DuplicateClientError, type ClientRecord } from '../store/clients.repo.js';
import { openStores, type Stores } from '../store/stores.js';
import { acquireDataDirLock, runningEmbeddedUrl } from './data-dir-lock.js';
import { policyCommand } from './policy-explain.js';
import { createNotifier, emailOutbox } from '../notifications/notifier.js';

/** `stepup` (SPEC §7). Bad input: a one-line reason on stderr and a non-zero exit. */
export class UsageError extends Error {}

const USAGE = `usage: stepup <command>
  serve                                   run the server
  migrate                                 apply database migrations
  user create --email E [--name N] [--admin] [--password-file F]   (password from stdin otherwise)
  user list
  user set-password --email E [--password-file F] [--must-change]   (password from stdin otherwise;
                                          ends the user's sessions; second factors stay)
  user update --email E [--new-email N] [--admin | --no-admin]
  client create --id ID [--secret S] [--redirect-uri U]... [--post-logout-redirect-uri U]...
                [--default-acr A]... [--minimum-acr A] [--grant-type G]... [--scope "S1 S2"] [--name N]
                [--id-token-signing-alg RS256|ES256] [--userinfo-signing-alg RS256|ES256]
  client list
  keys rotate                             add new signing keys; old public keys stay published
  policy explain (--user E | --all-users) [--client ID] [--acr-values "A B"] [--claims JSON]
                [--max-age N] [--prompt P] [--at ISO-time] [--session "password@-10m,totp@-5m"]
                [--policy-file F] [--json]
                                          dry-run a decision (writes nothing); --all-users counts
                                          outcomes and who can reach each level`;

const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<string, string | string[] | boolean | undefined>;
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('give the password on stdin or with --password-file');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const stripNewline = (s: string) => s.replace(/\r?\n$/, '');

function validUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${what} is not an absolute URL: ${value}`);
  }
  if (url.hash) throw new UsageError(`${what} must not have a fragment: ${value}`);
  if (!['https:', 'http:'].includes(url.protocol) && !/^[a-z][a-z0-9+.-]*:$/.test(url.protocol)) throw new UsageError(`${what} has a bad scheme: ${value}`);
  return value;
}

async function withStores<T>(config: Config, fn: (stores: Stores) => Promise<T>): Promise<T> {
  // next to a running embedded-default server, go through its Postgres socket instead of opening the files
  const viaServer = config.databaseUrl ? undefined : runningEmbeddedUrl(config.dataDir);
  const effective = viaServer ? { ...config, databaseUrl: viaServer } : config;
  const lock = effective.databaseUrl ? undefined : acquireDataDirLock(config.dataDir);
  try {
    const stores = await openStores(effective, createLogger('silent'));
    try {
      return await fn(stores);
    } finally {
      await stores.close();
    }
  } finally {
    lock?.release();
  }
}

async function userCommand(config: Config, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'create') {
    const v = parse(rest, { email: { type: 'string' }, name: { type: 'string' }, admin: { type: 'boolean' }, 'password-file': { type: 'string' } });
    const email = v.email as string | undefined;
    if (!email || !/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) throw new UsageError('--email must be an email address');
    const password = stripNewline(v['password-file'] ? readFileSync(v['password-file'] as string, 'utf8') : await readStdin());
    const problem = passwordPolicyError(password);
    if (problem) throw new UsageError(problem);
    const account = await withStores(config, async (s) => {
      try {
        return await s.accounts.create({ email, name: v.name as string | undefined, passwordHash: await hashPassword(password), isAdmin: Boolean(v.admin) });
      } catch (err) {
        if (err instanceof DuplicateEmailError) throw new UsageError(`an account with email ${email} already exists`);
        throw err;
      }
    });
    console.log(JSON.stringify({ id: account.id, email: account.email, name: account.name, admin: account.isAdmin }));
    return;
  }
  if (sub === 'list') {
    parse(rest, {});
    const accounts = await withStores(config, (s) => s.accounts.list());
    for (const a of accounts) console.log(JSON.stringify({ id: a.id, email: a.email, name: a.name, admin: a.isAdmin, disabled: Boolean(a.disabledAt) }));
    return;
  }
  if (sub === 'set-password') {
    const v = parse(rest, { email: { type: 'string' }, 'password-file': { type: 'string' }, 'must-change': { type: 'boolean' } });
    const email = v.email as string | undefined;
    if (!email) throw new UsageError('--email is required');
    const password = stripNewline(v['password-file'] ? readFileSync(v['password-file'] as string, 'utf8') : await readStdin());
    const problem = passwordPolicyError(password);
    if (problem) throw new UsageError(problem);
    const passwordHash = await hashPassword(password);
    const result = await withStores(config, async (s) => {
      const account = await s.accounts.findByEmail(email);
      if (!account) throw new UsageError(`no account with email ${email}`);
      // issue #17: the person is told (with SMTP_URL a mail, sent by a running server's outbox worker)
      const notify = createNotifier({ logger: createLogger('silent'), db: s.db, now: () => Math.floor(Date.now() / 1000), outbox: config.smtpUrl ? emailOutbox(s.outbox) : undefined });
      const notice = notify.within(undefined, { kind: v['must-change'] ? 'temporary_password_set' : 'password_set_by_admin', accountId: account.id });
      await s.accounts.setPassword(account.id, passwordHash, { changeRequired: Boolean(v['must-change']) }, notice);
      // whoever signed in with the old password is signed out (a Redis shared with the server: REDIS_URL)
      // loaded here: it reads oidc-provider's records, and importing oidc-provider at start would print its runtime notice for every command
      const { createAccountSessions } = await import('../store/redis/account-sessions.js');
      const revoked = await createAccountSessions(s.redis, config.redisKeyPrefix).revokeAccountSessions(account.id);
      await s.audit.record({ type: 'password.set', outcome: 'success', subject: account.id, details: { by: 'cli', changeRequired: Boolean(v['must-change']), sessionsEnded: revoked.sessions } });
      return { id: account.id, email: account.email, password_change_required: Boolean(v['must-change']), sessions_ended: revoked.sessions };
    });
    console.log(JSON.stringify(result));
    return;
  }
  if (sub === 'update') {
    const v = parse(rest, { email: { type: 'string' }, 'new-email': { type: 'string' }, admin: { type: 'boolean' }, 'no-admin': { type: 'boolean' } });
    const email = v.email as string | undefined;
    if (!email) throw new UsageError('--email is required');
    if (v.admin && v['no-admin']) throw new UsageError('give --admin or --no-admin, not both');
    const newEmail = v['new-email'] as string | undefined;
    if (newEmail !== undefined && (!/^[^\s@]+@[^\s@]+$/.test(newEmail) || newEmail.length > 254)) throw new UsageError('--new-email must be an email address');
    const isAdmin = v.admin ? true : v['no-admin'] ? false : undefined;
    if (isAdmin === undefined && newEmail === undefined) throw new UsageError('nothing to change: give --new-email, --admin or --no-admin');
    const updated = await withStores(config, async (s) => {
      const account = await s.accounts.findByEmail(email);
      if (!account) throw new UsageError(`no account with email ${email}`);
      try {
        const next = (await s.accounts.update(account.id, { email: newEmail, isAdmin }))!;
        await s.audit.record({ type: 'user.update', outcome: 'success', subject: account.id, details: { by: 'cli', ...(newEmail ? { email: next.email } : {}), ...(isAdmin !== undefined ? { admin: isAdmin } : {}) } });
        return next;
      } catch (err) {
        if (err instanceof DuplicateEmailError) throw new UsageError(`an account with email ${newEmail} already exists`);
        throw err;
      }
    });
    console.log(JSON.stringify({ id: updated.id, email: updated.email, name: updated.name, admin: updated.isAdmin }));
    return;
  }
  throw new UsageError('usage: stepup user create|list|set-password|update');
}

async function clientCommand(config: Config, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'create') {
    const v = parse(rest, {
      id: { type: 'string' },
      secret: { type: 'string' },
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      'default-acr': { type: 'string', multiple: true },
      'minimum-acr': { type: 'string' },
      'grant-type': { type: 'string', multiple: true },
      scope: { type: 'string' },
      'id-token-signing-alg': { type: 'string' },
      'userinfo-signing-alg': { type: 'string' },
    });
    const id = v.id as string | undefined;
    if (!id || !/^[A-Za-z0-9._~-]{1,128}$/.test(id)) throw new UsageError('--id is required (letters, digits, . _ ~ -; at most 128)');
    // stepup's own pages sign in as these; a stored client of the same id would never be used
    if (id === ACCOUNT_CLIENT_ID || id === ADMIN_CLIENT_ID) throw new UsageError(`--id ${id} is reserved for a built-in client`);
    const secret = v.secret as string | undefined;
    if (secret !== undefined && secret.length === 0) throw new UsageError('--secret must not be empty');
    // client_secret_jwt (HS256) needs 256 bits; a shorter secret works for basic/post but is guessable
    if (secret !== undefined && secret.length < 32) console.error('stepup: warning: --secret is shorter than 32 characters; use e.g. $(openssl rand -hex 32)');
    const grantTypes = ((v['grant-type'] as string[] | undefined) ?? ['authorization_code', 'refresh_token']).flatMap((g) => g.split(','));
    for (const g of grantTypes) if (!GRANT_TYPES.includes(g as (typeof GRANT_TYPES)[number])) throw new UsageError(`unsupported --grant-type ${g} (one of ${GRANT_TYPES.join(', ')})`);
    const redirectUris = ((v['redirect-uri'] as string[] | undefined) ?? []).map((u) => validUrl(u, '--redirect-uri'));
    if (grantTypes.includes('authorization_code') && redirectUris.length === 0) throw new UsageError('--redirect-uri is required for the authorization_code grant');
    if (grantTypes.includes('client_credentials') && !secret) throw new UsageError('the client_credentials grant needs a confidential client (--secret)');
    if (grantTypes.includes('refresh_token') && !grantTypes.includes('authorization_code')) throw new UsageError('refresh_token needs the authorization_code grant');
    const ACR_VALUES = loadPolicy(config.policyFile).levels.map((l) => l.acr);
    const defaultAcr = ((v['default-acr'] as string[] | undefined) ?? []).flatMap((a) => a.split(/[ ,]/)).filter(Boolean);
    for (const a of defaultAcr) if (!ACR_VALUES.includes(a)) throw new UsageError(`unknown --default-acr ${a} (one of ${ACR_VALUES.join(', ')})`);
    const minimumAcr = v['minimum-acr'] as string | undefined;
    if (minimumAcr !== undefined && !ACR_VALUES.includes(minimumAcr)) throw new UsageError(`unknown --minimum-acr ${minimumAcr} (one of ${ACR_VALUES.join(', ')})`);
    const scope = (v.scope as string | undefined)?.trim();
    if (scope !== undefined && !/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/.test(scope)) throw new UsageError('--scope must be space-separated scope tokens');
    // issue #14: RS256 unless told otherwise (OIDC Dynamic Client Registration §2)
    const signingAlg = (flag: string) => {
      const alg = v[flag] as string | undefined;
      if (alg !== undefined && !isSigningAlgorithm(alg)) throw new UsageError(`unsupported --${flag} ${alg} (one of ${SIGNING_ALGORITHMS.join(', ')})`);
      return alg as SigningAlgorithm | undefined;
    };
    const idTokenSignedResponseAlg = signingAlg('id-token-signing-alg') ?? DEFAULT_ID_TOKEN_SIGNING_ALG;
    const userinfoSignedResponseAlg = signingAlg('userinfo-signing-alg');
    const record = {
      clientId: id,
      clientSecret: secret,
      clientName: v.name as string | undefined,
      redirectUris,
      postLogoutRedirectUris: ((v['post-logout-redirect-uri'] as string[] | undefined) ?? []).map((u) => validUrl(u, '--post-logout-redirect-uri')),
      grantTypes,
      scope,
      defaultAcrValues: defaultAcr,
      minimumAcr,
      idTokenSignedResponseAlg,
      userinfoSignedResponseAlg,
    };
    await withStores(config, async (s) => {
      try {
        await s.clients.create(record);
      } catch (err) {
        if (err instanceof DuplicateClientError) throw new UsageError(`client ${id} already exists`);
        throw err;
      }
    });
    console.log(JSON.stringify(clientJson(record, true), null, 2));
    return;
  }
  if (sub === 'list') {
    parse(rest, {});
    const clients = await withStores(config, (s) => s.clients.list());
    for (const c of clients) console.log(JSON.stringify(clientJson(c, false)));
    return;
  }
  throw new UsageError('usage: stepup client create|list');
}

function clientJson(c: ClientRecord, withSecret: boolean) {
  return {
    client_id: c.clientId,
    ...(withSecret && c.clientSecret ? { client_secret: c.clientSecret } : {}),
    client_type: c.clientSecret ? 'confidential' : 'public',
    client_name: c.clientName,
    redirect_uris: c.redirectUris,
    post_logout_redirect_uris: c.postLogoutRedirectUris,
    grant_types: c.grantTypes,
    scope: c.scope,
    default_acr_values: c.defaultAcrValues,
    minimum_acr: c.minimumAcr,
    id_token_signed_response_alg: c.idTokenSignedResponseAlg ?? DEFAULT_ID_TOKEN_SIGNING_ALG,
    userinfo_signed_response_alg: c.userinfoSignedResponseAlg,
    token_endpoint_auth_method: c.clientSecret ? 'client_secret_basic' : 'none',
  };
}

const SHUTDOWN_GRACE_MS = 10_000;

async function serve(config: Config): Promise<number> {
  const lock = config.databaseUrl ? undefined : acquireDataDirLock(config.dataDir);
  // loaded only to serve: the protocol stack is not needed (nor its start-up notices) for the other commands
  const { createApp } = await import('../app.js');
  const app = await createApp(config);
  if (lock && app.stores.embedded) lock.publishUrl(app.stores.embedded.url);
  // before listening: the demo client's redirect URI follows this start's issuer before any request reads it
  const demo = config.databaseUrl ? undefined : await ensureDemo(config, app.stores);
  // issue #17: /metrics, /healthz, /readyz on the management listener (internal by default); a port in use stops the start
  const { listenManagement, ManagementPortInUse } = await import('../ops/management.js');
  let management;
  try {
    management = await listenManagement(app.managementCallback, config.managementPort, config.managementHost).catch(async (err: unknown) => {
      // issue #15, a quick start that cannot break: the embedded development default, with no
      // MANAGEMENT_PORT named, moves /metrics to a free port when the default 9000 is taken (MinIO,
      // php-fpm, Portainer…) and says where; a port the operator named, or production, stays an error
      if (!(err instanceof ManagementPortInUse) || !demo || process.env.MANAGEMENT_PORT !== undefined) throw err;
      const moved = await listenManagement(app.managementCallback, 0, config.managementHost);
      app.logger.warn({ management: moved.url }, `MANAGEMENT_PORT ${config.managementPort} is in use: the management interface (/metrics) listens on ${moved.url} instead (set MANAGEMENT_PORT to choose)`);
      return moved;
    });
  } catch (err) {
    await app.close();
    lock?.release();
    throw new ConfigError((err as Error).message);
  }
  const server: Server = createServer(app.callback);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(config.port, resolve));
  app.logger.info({ issuer: config.issuer, port: config.port, management: management.url }, 'stepup listening');
  if (demo) process.stdout.write(demoInstructions(config.issuer, demo, app.policy.levels.map((l) => l.acr), `${management.url}/metrics`) + '\n');
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      app.logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
      const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
      server.close(async () => {
        clearTimeout(force);
        await management.close();
        await app.close();
        lock?.release();
        app.logger.info('stopped');
        resolve(0);
      });
      server.closeIdleConnections();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (!command || command === 'help' || command === '--help') {
      console.log(USAGE);
      return command ? 0 : 2;
    }
    const config = loadConfig();
    switch (command) {
      case 'serve':
        parse(rest, {});
        return await serve(config);
      case 'migrate':
        parse(rest, {});
        await withStores(config, async () => undefined);
        console.log('migrations applied');
        return 0;
      case 'user':
        await userCommand(config, rest);
        return 0;
      case 'client':
        await clientCommand(config, rest);
        return 0;
      case 'policy':
        await policyCommand(config, rest, { parse, withStores, UsageError });
        return 0;
      case 'keys': {
        if (rest[0] !== 'rotate') throw new UsageError('usage: stepup keys rotate');
        parse(rest.slice(1), {});
        const result = await withStores(config, (s) => rotateSigningKeys(s.signingKeys));
        console.log(JSON.stringify({ ...result, note: 'restart every instance to sign with the new keys' }));
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${command}\n${USAGE}`);
    }
  } catch (err) {
    const known = err instanceof UsageError || err instanceof ConfigError;
    console.error(`stepup: ${known ? err.message : `error: ${(err as Error).message ?? String(err)}`}`);
    return known ? 2 : 1;
  }
}

// run when executed directly (the `stepup` bin); not when imported by src/main.ts or tests
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // exit explicitly: a failed command must not hang on a pool or socket left open
  process.exit(await runCli(process.argv.slice(2)));
}
