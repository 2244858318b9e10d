import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/factors/password/password.js';
import type { App } from '../../src/app.js';
import { Browser, type Page } from './browser.js';

/** The relying party side of the tests: openid-client (a certified RP library) against stepup. */
export const RP_REDIRECT = 'http://rp.localhost/callback';

export async function createUser(app: App, email = `user-${randomBytes(4).toString('hex')}@example.com`, password = 'correct horse battery staple') {
  const account = await app.stores.accounts.create({ email, name: 'Test User', passwordHash: await hashPassword(password) });
  return { ...account, password };
}

export async function createConfidentialClient(app: App, extra: Partial<Parameters<App['stores']['clients']['create']>[0]> = {}) {
  const clientId = `rp-${randomBytes(4).toString('hex')}`;
  const clientSecret = randomBytes(32).toString('base64url');
  await app.stores.clients.create({
    clientId,
    clientSecret,
    redirectUris: [RP_REDIRECT],
    postLogoutRedirectUris: ['http://rp.localhost/logged-out'],
    grantTypes: ['authorization_code', 'refresh_token'],
    defaultAcrValues: [],
    ...extra,
  });
  return { clientId, clientSecret };
}

export async function discover(issuer: string, clientId: string, clientSecret?: string) {
  return oidc.discovery(new URL(issuer), clientId, clientSecret, clientSecret ? oidc.ClientSecretBasic(clientSecret) : oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
}

export interface AuthRequest {
  scope?: string;
  acr_values?: string;
  max_age?: number;
  prompt?: string;
  claims?: object;
  resource?: string;
  login_hint?: string;
}

export async function startAuthorization(config: oidc.Configuration, req: AuthRequest = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const params: Record<string, string> = {
    redirect_uri: RP_REDIRECT,
    scope: req.scope ?? 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  if (req.acr_values !== undefined) params.acr_values = req.acr_values;
  if (req.max_age !== undefined) params.max_age = String(req.max_age);
  if (req.prompt !== undefined) params.prompt = req.prompt;
  if (req.claims !== undefined) params.claims = JSON.stringify(req.claims);
  if (req.resource !== undefined) params.resource = req.resource;
  if (req.login_hint !== undefined) params.login_hint = req.login_hint;
  return { url: oidc.buildAuthorizationUrl(config, params), verifier, state, nonce, maxAge: req.max_age };
}

export type Started = Awaited<ReturnType<typeof startAuthorization>>;

/** Exchanges the code at the RP callback and validates the ID token (iss, aud, nonce, max_age). */
export async function finish(config: oidc.Configuration, started: Started, callbackUrl: string, resource?: string) {
  return oidc.authorizationCodeGrant(
    config,
    new URL(callbackUrl),
    { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce, maxAge: started.maxAge },
    resource ? { resource } : undefined,
  );
}

export function isCallback(page: Page): boolean {
  return page.url.startsWith(RP_REDIRECT);
}

/** Full password sign-in through the pages, as a browser would; returns the RP callback URL. */
export async function passwordLogin(browser: Browser, started: Started, email: string, password: string): Promise<Page> {
  const loginPage = await browser.follow(started.url.toString());
  if (isCallback(loginPage)) return loginPage;
  return browser.submit(loginPage, '/password', { email, password });
}
