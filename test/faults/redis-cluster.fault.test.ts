import { describe, expect, it, jest } from '@jest/globals';
import { Cluster } from 'ioredis';
import { createAccountSessions } from '../../src/store/redis/account-sessions.js';
import { startDisposableRedisCluster, type DisposableRedisCluster } from '../support/disposable-stores.js';
import { finish } from '../support/rp.js';
import { TOTP_PERIOD_SECONDS, totpCodeAt } from '../../src/factors/totp/totp.js';
import { describeTwoInstanceChecks, twoInstances } from './two-instances.js';

/**
 * Issue #18: two stepup processes on a Redis Cluster of three masters pass the same checks as on one
 * Redis server. Every Lua script's keys share a hash tag (src/store/redis/oidc-adapter.ts): a script
 * over two slots would fail here with CROSSSLOT, not pass.
 */
jest.setTimeout(180_000);

let cluster: DisposableRedisCluster;
const ctx = twoInstances(async () => {
  cluster = await startDisposableRedisCluster(3);
  return { env: { REDIS_CLUSTER_NODES: cluster.nodes }, dispose: () => cluster.dispose() };
});

describeTwoInstanceChecks(ctx);

describe('on the Redis Cluster itself', () => {
  it("the keys of one session and one grant spread over the cluster's masters, and the processes logged no Redis error", async () => {
    const client = new Cluster(cluster.nodes.split(',').map((a) => ({ host: '127.0.0.1', port: Number(a.split(':')[1]) })));
    try {
      const perNode = await Promise.all(client.nodes('master').map((n) => n.dbsize()));
      // the sign-ins above wrote keys of many tags: each master holds some
      expect(perNode.every((n) => n > 0)).toBe(true);
    } finally {
      client.disconnect();
    }
    for (const server of ctx.servers) expect(server.output()).not.toMatch(/CROSSSLOT|redis error/i);
  });

  it("an account's sessions and grants revoked (the admin's 'sign out everywhere') end its tokens at both processes", async () => {
    const user = ctx.users[1]!; // its TOTP steps are unused (its failures above were recovery codes)
    const { browser, started, page } = await ctx.atTotpPage(user);
    const step = Math.max(user.nextStep, Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS));
    user.nextStep = step + 1;
    const callback = await browser.submit(page, '/totp', { code: await totpCodeAt(user.secret, step * TOTP_PERIOD_SECONDS) });
    const tokens = await finish(ctx.config, started, callback.url);
    expect(tokens.refresh_token).toBeTruthy();

    const client = new Cluster(cluster.nodes.split(',').map((a) => ({ host: '127.0.0.1', port: Number(a.split(':')[1]) })));
    try {
      const revoked = await createAccountSessions(client, 'stepup:').revokeAccountSessions(user.id);
      expect(revoked.sessions).toBeGreaterThanOrEqual(1);
      expect(revoked.grants).toBeGreaterThanOrEqual(1);
    } finally {
      client.disconnect();
    }
    for (const i of [0, 1]) {
      const introspection = (await (await ctx.tokenRequest(i, { token: tokens.access_token }, '/token/introspection')).json()) as { active: boolean };
      expect(introspection.active).toBe(false);
      expect((await ctx.tokenRequest(i, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! })).status).toBe(400);
    }
  });
});
