import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashPassword } from '../../src/factors/password/password.js';
import { newTotpSecret } from '../../src/factors/totp/totp.js';
import type { Stores } from '../../src/store/stores.js';

/**
 * What the bank demo needs in stepup, created on first start: the bank web app's confidential client
 * (allowed the API scope `bank`; stepup issues JWT access tokens for any absolute resource URL, see
 * src/oidc/resources.ts) and a demo user with a password and an authenticator app already set up, so
 * "send a payment" can step up to aal2 at once. Kept in DATA_DIR/bank-demo.json (0600): a development
 * demo prints these on every start, like `npm start` prints its demo user.
 */
export const BANK_CLIENT_ID = 'bank';
export const BANK_API_SCOPE = 'bank';
export const BANK_DEMO_EMAIL = 'demo@example.com';

export interface BankDemoState {
  email: string;
  password: string;
  /** base32 TOTP secret of the demo user's authenticator app */
  totpSecret: string;
  clientSecret: string;
}

export const stateFile = (dataDir: string) => join(dataDir, 'bank-demo.json');

export function readBankDemoState(dataDir: string): BankDemoState | undefined {
  const file = stateFile(dataDir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BankDemoState) : undefined;
}

export async function ensureBankDemo(stores: Stores, dataDir: string, webUrl: string): Promise<{ state: BankDemoState; created: boolean }> {
  let state = readBankDemoState(dataDir);
  const created = !state;
  if (!state) {
    state = {
      email: BANK_DEMO_EMAIL,
      password: randomBytes(9).toString('base64url'),
      totpSecret: newTotpSecret(),
      clientSecret: randomBytes(32).toString('base64url'),
    };
    const account =
      (await stores.accounts.findByEmail(state.email)) ??
      (await stores.accounts.create({ email: state.email, name: 'Demo User', passwordHash: await hashPassword(state.password) }));
    // the admin API's TOTP import path: active at once (a real user would scan the QR code on /account)
    await stores.factors.importTotp(account.id, 'Authenticator app', state.totpSecret);
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(stateFile(dataDir), JSON.stringify(state, null, 2), { mode: 0o600 });
  }
  const client = {
    clientName: 'Demo Bank',
    redirectUris: [`${webUrl}/callback`],
    postLogoutRedirectUris: [`${webUrl}/`],
    grantTypes: ['authorization_code', 'refresh_token'],
    scope: BANK_API_SCOPE,
    defaultAcrValues: [],
  };
  // created, or brought in line with this start's ports
  if (await stores.clients.find(BANK_CLIENT_ID)) await stores.clients.update(BANK_CLIENT_ID, client);
  else await stores.clients.create({ clientId: BANK_CLIENT_ID, clientSecret: state.clientSecret, ...client });
  return { state, created };
}
