import { randomBytes, createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/env.js';
import { hashPassword } from '../factors/password/password.js';
import type { Stores } from '../store/stores.js';

/**
 * First start of the embedded default (issue #2 item 7): a demo user and a demo public client, and a
 * ready authorization URL. The demo password is random and kept in DATA_DIR/demo.json (0600) so the
 * instructions can be printed again on later starts.
 */
export const DEMO_CLIENT_ID = 'demo';
export const DEMO_EMAIL = 'demo@example.com';

interface DemoState {
  email: string;
  password: string;
}

export const demoRedirectUri = (issuer: string) => `${issuer}/demo/callback`;

export async function ensureDemo(config: Config, stores: Stores): Promise<DemoState | undefined> {
  const file = join(config.dataDir, 'demo.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DemoState;
  if ((await stores.accounts.count()) > 0 || (await stores.clients.count()) > 0) return undefined;
  const state: DemoState = { email: DEMO_EMAIL, password: randomBytes(12).toString('base64url') };
  await stores.accounts.create({ email: state.email, name: 'Demo User', passwordHash: await hashPassword(state.password) });
  await stores.clients.create({
    clientId: DEMO_CLIENT_ID,
    clientName: 'stepup demo',
    redirectUris: [demoRedirectUri(config.issuer)],
    postLogoutRedirectUris: [config.issuer],
    grantTypes: ['authorization_code', 'refresh_token'],
    defaultAcrValues: [],
  });
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}

export function demoInstructions(issuer: string, demo: DemoState): string {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: DEMO_CLIENT_ID,
    response_type: 'code',
    scope: 'openid email profile',
    redirect_uri: demoRedirectUri(issuer),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
  }).toString();
  return [
    '',
    'stepup is running on the embedded default (development only).',
    `  Issuer:        ${issuer}`,
    `  Discovery:     ${issuer}/.well-known/openid-configuration`,
    `  Demo user:     ${demo.email}`,
    `  Demo password: ${demo.password}`,
    `  Demo client:   ${DEMO_CLIENT_ID} (public, PKCE S256, redirect_uri ${demoRedirectUri(issuer)})`,
    `  Sign in:       ${url.toString()}`,
    `  PKCE verifier for that URL: ${verifier}`,
    '',
  ].join('\n');
}
