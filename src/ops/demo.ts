import { randomBytes } from 'node:crypto';
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

/** The demo client's registered URIs for an issuer: they follow ISSUER (and so PORT) on every start (issue #15). */
function demoClientUris(issuer: string) {
  return { redirectUris: [demoRedirectUri(issuer)], postLogoutRedirectUris: [issuer] };
}

export async function ensureDemo(config: Config, stores: Stores): Promise<DemoState | undefined> {
  const file = join(config.dataDir, 'demo.json');
  if (existsSync(file)) {
    // a restart with another PORT or ISSUER: the demo client's first redirect URI would be refused
    // (invalid_redirect_uri), so it is moved to the current issuer; other fields are left as an admin set them
    const client = await stores.clients.find(DEMO_CLIENT_ID);
    if (client) {
      const { clientId: _id, clientSecret: _secret, ...editable } = client;
      await stores.clients.update(DEMO_CLIENT_ID, { ...editable, ...demoClientUris(config.issuer) });
    }
    return JSON.parse(readFileSync(file, 'utf8')) as DemoState;
  }
  if ((await stores.accounts.count()) > 0 || (await stores.clients.count()) > 0) return undefined;
  const state: DemoState = { email: DEMO_EMAIL, password: randomBytes(12).toString('base64url') };
  await stores.accounts.create({ email: state.email, name: 'Demo User', passwordHash: await hashPassword(state.password) });
  await stores.clients.create({
    clientId: DEMO_CLIENT_ID,
    clientName: 'stepup demo',
    ...demoClientUris(config.issuer),
    grantTypes: ['authorization_code', 'refresh_token'],
    defaultAcrValues: [],
  });
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}

/** The demo app's start page for a level (`/demo?acr_values=aal2`): it makes the PKCE pair and state itself. */
export const demoStartUrl = (issuer: string, acr?: string) => `${issuer}/demo${acr ? `?acr_values=${encodeURIComponent(acr)}` : ''}`;

/** @param metricsUrl where the management interface serves /metrics (issue #17), when it listens */
export function demoInstructions(issuer: string, demo: DemoState, acrValues: readonly string[] = [], metricsUrl?: string): string {
  return [
    '',
    'stepup is running on the embedded default (development only).',
    `  Issuer:        ${issuer}`,
    `  Discovery:     ${issuer}/.well-known/openid-configuration`,
    `  Demo user:     ${demo.email}`,
    `  Demo password: ${demo.password}`,
    `  Demo client:   ${DEMO_CLIENT_ID} (public, PKCE S256, redirect_uri ${demoRedirectUri(issuer)})`,
    `  Sign in:       ${demoStartUrl(issuer)}`,
    ...acrValues.slice(1).map((acr) => `  Try ${`${acr}:`.padEnd(11)}${demoStartUrl(issuer, acr)}`),
    `  Your account:  ${issuer}/account`,
    ...(metricsUrl ? [`  Metrics:       ${metricsUrl}`] : []),
    '',
  ].join('\n');
}
