import { describe, expect, it, jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { createChallengeStore } from '../../src/store/redis/webauthn-challenges.js';
import { TOTP_PERIOD_SECONDS, totpCodeAt } from '../../src/factors/totp/totp.js';
import { startDisposableRedis, type DisposableRedis } from '../support/disposable-stores.js';
import { finish, startAuthorization } from '../support/rp.js';
import { describeTwoInstanceChecks, PARALLEL, twoInstances } from './two-instances.js';

/**
 * Issue #7 / SPEC §3: single-use things stay single-use across several stepup processes sharing one
 * Postgres and one Redis server (the checks shared with the Redis Cluster run are in two-instances.ts).
 */
jest.setTimeout(180_000);

let redis: DisposableRedis;
const ctx = twoInstances(async () => {
  redis = await startDisposableRedis({ persistence: 'none' });
  return { env: { REDIS_URL: redis.url }, dispose: () => redis.dispose() };
});

describeTwoInstanceChecks(ctx);

describe('WebAuthn challenges on a shared Redis', () => {
  it('20 parallel takes of one challenge from two connections (two instances): exactly one gets it', async () => {
    const connections = [new Redis(redis.url), new Redis(redis.url)];
    try {
      const stores = connections.map((c) => createChallengeStore(c, 'stepup:'));
      const record = { challenge: 'c'.repeat(43), purpose: 'authenticate' as const, requireUserVerification: true, expiresAt: Math.floor(Date.now() / 1000) + 300 };
      await stores[0]!.put('interaction-1', record, 300);
      const taken = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => stores[i % 2]!.take('interaction-1')));
      expect(taken.filter(Boolean)).toEqual([record]);
    } finally {
      for (const c of connections) c.disconnect();
    }
  });
});

describe('a Redis restart without persistence', () => {
  it('signs everyone out, and nothing else is lost: factors, used TOTP steps and recovery codes are in Postgres', async () => {
    const user = ctx.users[1]!; // its first recovery code was spent above
    const signedIn = ctx.newBrowser();
    const { started: s1, page } = await (async () => {
      const started = await startAuthorization(ctx.config, { acr_values: 'aal2' });
      const login = await signedIn.follow(started.url.toString());
      return { started, page: await signedIn.submit(login, '/password', { email: user.email, password: user.password }) };
    })();
    const step = Math.max(user.nextStep, Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS));
    user.nextStep = step + 1;
    const usedCode = await totpCodeAt(user.secret, step * TOTP_PERIOD_SECONDS);
    const callback = await signedIn.submit(page, '/totp', { code: usedCode });
    expect((await finish(ctx.config, s1, callback.url)).claims()?.acr).toBe('aal2');

    await redis.stop();
    await redis.start(); // persistence 'none': an empty Redis

    // the session is gone: the RP's silent request needs a sign-in again (both processes reconnect by themselves)
    const silent = await startAuthorization(ctx.config, { acr_values: 'aal2', prompt: 'none' });
    const answer = await signedIn.follow(silent.url.toString());
    expect(new URL(answer.url).searchParams.get('error')).toBe('login_required');

    // signing in again works, with the same factors; the used TOTP step is still refused (Postgres)
    const again = await ctx.atTotpPage(user);
    expect((await ctx.post(1, again.browser, again.page, '/totp', { code: usedCode })).status).toBe(401);
    const spent = await ctx.atTotpPage(user);
    const recovery = await spent.browser.submit(spent.page, `/interaction/${/\/interaction\/([^/"]+)\/totp/.exec(spent.page.html)![1]}`, { use: 'recovery_code' });
    expect((await ctx.post(0, spent.browser, recovery, '/recovery', { code: user.recoveryCodes[0]! })).status).toBe(401);
    const fresh = await ctx.post(1, spent.browser, recovery, '/recovery', { code: user.recoveryCodes[1]! });
    expect(fresh.status).toBe(200);
    expect(fresh.html).toMatch(/8 recovery codes left/);
  });
});
