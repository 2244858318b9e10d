import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { ACCOUNT_CACHE_SECONDS } from '../src/store/account-reads.js';
import { Browser } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createConfidentialClient, createUser, discover, finish, passwordLogin, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/**
 * Issue #20: the token paths (refresh, userinfo) read the account from a cache of at most
 * ACCOUNT_CACHE_SECONDS, dropped at once on the instance that changes the account and on the others
 * through Redis pub/sub. Two app instances share the run's Postgres schema and Redis prefix: tokens
 * are used on B, the account is changed through A.
 */
const iso = newIsolation();
let a: RunningServer;
let b: RunningServer;
let rp: { clientId: string; clientSecret: string };

beforeAll(async () => {
  a = await startServer(iso);
  b = await startServer(iso);
  rp = await createConfidentialClient(a.app);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await dropIsolation(iso);
});

/** Signs a new user in on A; the tokens are then used on B. */
async function signedIn() {
  const user = await createUser(a.app);
  const configA = await discover(a.issuer, rp.clientId, rp.clientSecret);
  const started = await startAuthorization(configA);
  const page = await passwordLogin(new Browser(a.issuer), started, user.email, user.password);
  const tokens = await finish(configA, started, page.url);
  const configB = await discover(b.issuer, rp.clientId, rp.clientSecret);
  return { user, tokens, configB };
}

/** userinfo called directly: 401 with an invalid_token challenge when the account is refused */
async function userinfoStatus(issuer: string, accessToken: string): Promise<{ status: number; challenge: string | null }> {
  const res = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: res.status, challenge: res.headers.get('www-authenticate') };
}
const REFUSED = { status: 401, challenge: expect.stringContaining('error="invalid_token"') };

/** Retries `check` for up to a second: pub/sub delivery to the other instance takes a moment, not seconds. */
async function withinASecond(check: () => Promise<void>): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      await check();
      return Date.now() - started;
    } catch (err) {
      if (Date.now() - started > 1000) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

describe('the token paths account cache (issue #20)', () => {
  it('is used: a change made behind the repository (no announcement) is not seen until the entry expires', async () => {
    const { user, tokens, configB } = await signedIn();
    expect(await oidc.fetchUserInfo(configB, tokens.access_token, user.id)).toMatchObject({ email: user.email });
    // straight to the table: nothing announces it, so B answers from its cache
    await b.app.stores.db('accounts').where({ id: user.id }).update({ name: 'Changed Behind' });
    expect(await oidc.fetchUserInfo(configB, tokens.access_token, user.id)).toMatchObject({ name: 'Test User' });
    await new Promise((r) => setTimeout(r, ACCOUNT_CACHE_SECONDS * 1000 + 200));
    expect(await oidc.fetchUserInfo(configB, tokens.access_token, user.id)).toMatchObject({ name: 'Changed Behind' });
  }, 20_000);

  it('a change on instance A reaches instance B at once: a new email in userinfo, a disabled account refused by userinfo and refresh', async () => {
    const { user, tokens, configB } = await signedIn();
    // B has the account cached
    expect(await oidc.fetchUserInfo(configB, tokens.access_token, user.id)).toMatchObject({ email: user.email });
    const refreshed = await oidc.refreshTokenGrant(configB, tokens.refresh_token!);

    const newEmail = `changed-${user.email}`;
    await a.app.stores.accounts.update(user.id, { email: newEmail });
    const emailMs = await withinASecond(async () => {
      expect(await oidc.fetchUserInfo(configB, refreshed.access_token, user.id)).toMatchObject({ email: newEmail });
    });

    // the repository alone (no session revocation): only the dropped cache entry makes B refuse the tokens
    await a.app.stores.accounts.setDisabled(user.id, true);
    const disabledMs = await withinASecond(async () => {
      expect(await userinfoStatus(b.issuer, refreshed.access_token)).toEqual(REFUSED);
    });
    await expect(oidc.refreshTokenGrant(configB, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(emailMs).toBeLessThan(1000);
    expect(disabledMs).toBeLessThan(1000);
  });

  it('the writing instance drops its own entry synchronously', async () => {
    const { user, tokens } = await signedIn();
    const configA = await discover(a.issuer, rp.clientId, rp.clientSecret);
    expect(await oidc.fetchUserInfo(configA, tokens.access_token, user.id)).toMatchObject({ email: user.email });
    await a.app.stores.accounts.setDisabled(user.id, true);
    // no waiting: the same process forgot the account before setDisabled returned
    expect(await userinfoStatus(a.issuer, tokens.access_token)).toEqual(REFUSED);
  });

  it('the sign-in path never uses it: a disabled account cannot sign in although B has it cached', async () => {
    const { user, tokens, configB } = await signedIn();
    expect(await oidc.fetchUserInfo(configB, tokens.access_token, user.id)).toMatchObject({ email: user.email });
    // behind the repository: B's cache still holds the enabled account, the sign-in must read the table
    await a.app.stores.db('accounts').where({ id: user.id }).update({ disabled_at: new Date() });
    const started = await startAuthorization(configB);
    const page = await passwordLogin(new Browser(b.issuer), started, user.email, user.password);
    expect(page.url.startsWith('http://rp.localhost/')).toBe(false);
    expect(page.status).toBeLessThan(500);
  });
});
