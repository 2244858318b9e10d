import { createServer, type Server } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireDataDirLock } from '../../src/cli/data-dir-lock.js';
import { loadConfig } from '../../src/config/env.js';
import { formatManualKey, totpCodeAt, totpUri } from '../../src/factors/totp/totp.js';
import { createBankApi } from './api.js';
import { BANK_CLIENT_ID, ensureBankDemo, readBankDemoState } from './setup.js';
import { createBankWeb } from './web.js';

/**
 * `npm run demo`: stepup on its embedded default (no services), the Demo Bank's API (protected with
 * `stepup/resource-server`) and its web app (openid-client), in one process. Ports: PORT (stepup,
 * 3000), BANK_PORT (4000), BANK_API_PORT (4001). `npm run demo -- code` prints the demo user's
 * current authenticator code. Data in DATA_DIR (default ./data/bank-demo), apart from `npm start`'s.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const env = process.env;
const dataDir = env.DATA_DIR ?? join(ROOT, 'data', 'bank-demo');

function listen(server: Server, port: number, what: string): Promise<void> {
  return new Promise((ok, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      fail(new Error(err.code === 'EADDRINUSE' ? `port ${port} (${what}) is in use: set ${what === 'stepup' ? 'PORT' : what === 'bank web app' ? 'BANK_PORT' : 'BANK_API_PORT'} to another port` : err.message)),
    );
    // loopback only: a development demo is not for the network
    server.listen(port, '127.0.0.1', () => ok());
  });
}

async function printCode(): Promise<number> {
  const state = readBankDemoState(dataDir);
  if (!state) {
    console.error(`no demo in ${dataDir} yet: run npm run demo first`);
    return 1;
  }
  console.log(await totpCodeAt(state.totpSecret, Math.floor(Date.now() / 1000)));
  return 0;
}

async function main(): Promise<number> {
  if (process.argv[2] === 'code') return printCode();
  const port = Number(env.PORT ?? 3000);
  const bankPort = Number(env.BANK_PORT ?? 4000);
  const apiPort = Number(env.BANK_API_PORT ?? 4001);
  const issuer = env.ISSUER ?? `http://localhost:${port}`;
  const webUrl = `http://localhost:${bankPort}`;
  const apiUrl = `http://localhost:${apiPort}`;

  // the demo shows the app's own step-ups (aal1, then aal2 for a payment): its policy turns the new-device
  // and new-network signals off (issue #16), else the first sign-in of every browser would ask for the code
  const policyFile = env.POLICY_FILE ?? join(ROOT, 'examples', 'bank', 'policy.json');
  const config = loadConfig({ LOG_LEVEL: 'warn', ...env, POLICY_FILE: policyFile, ISSUER: issuer, PORT: String(port), DATA_DIR: dataDir });
  const lock = config.databaseUrl ? undefined : acquireDataDirLock(config.dataDir);
  const { createApp } = await import('../../src/app.js');
  const stepup = await createApp(config);
  if (lock && stepup.stores.embedded) lock.publishUrl(stepup.stores.embedded.url);
  const { state, created } = await ensureBankDemo(stepup.stores, config.dataDir, webUrl);

  const servers = [createServer(stepup.callback), createServer(createBankApi({ issuer, audience: apiUrl }).callback()), createServer()];
  const web = createBankWeb({ issuer, clientId: BANK_CLIENT_ID, clientSecret: state.clientSecret, webUrl, apiUrl });
  servers[2]!.on('request', web.callback());
  try {
    await listen(servers[0]!, port, 'stepup');
    await listen(servers[1]!, apiPort, 'bank API');
    await listen(servers[2]!, bankPort, 'bank web app');
  } catch (err) {
    console.error(`demo: ${(err as Error).message}`);
    for (const s of servers) s.close();
    await stepup.close();
    lock?.release();
    return 1;
  }

  const uri = totpUri(state.totpSecret, new URL(issuer).host, state.email);
  const lines = [
    '',
    `Demo Bank is running${created ? ' (first start: demo user and client created)' : ''}.`,
    `  Open:               ${webUrl}`,
    `  Demo user:          ${state.email}`,
    `  Password:           ${state.password}`,
    `  Authenticator app:  key ${formatManualKey(state.totpSecret)} (SHA-1, 6 digits, 30 s)`,
    `                      ${uri}`,
    `                      no app at hand? \`npm run demo -- code\` prints the current code`,
    `  Passkey:            "change payout account" needs one: add it on ${issuer}/account`,
    `  stepup (issuer):    ${issuer}`,
    `  Bank API:           ${apiUrl} (resource server, stepup/resource-server)`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (process.stdout.isTTY) {
    const { default: QRCode } = await import('qrcode');
    process.stdout.write(`Scan with your authenticator app:\n${await QRCode.toString(uri, { type: 'terminal', small: true })}\n`);
  }

  return new Promise<number>((done) => {
    const stop = () => {
      for (const s of servers) s.closeAllConnections();
      void Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
        .then(() => stepup.close())
        .finally(() => {
          lock?.release();
          done(0);
        });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

process.exit(
  await main().catch((err: Error) => {
    // e.g. the data directory in use by another demo: one line, no stack trace
    console.error(`demo: ${err.message}`);
    return 1;
  }),
);
