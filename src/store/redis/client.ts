import { createRequire } from 'node:module';
import { Redis } from 'ioredis';

/**
 * REDIS_URL absent: an in-process Redis (ioredis-mock, Lua included) so the embedded default runs
 * the same code as production; single instance only (SPEC §6).
 */
export function createRedis(url: string | undefined): Redis {
  if (!url) {
    // loaded only here (a CommonJS package, so synchronously): about 19 MiB of resident memory that a
    // server with REDIS_URL never needs (issue #6)
    const RedisMock = createRequire(import.meta.url)('ioredis-mock') as typeof Redis;
    return new RedisMock();
  }
  return new Redis(url, {
    // fail a command fast while Redis is unreachable instead of queueing it forever: callers fail closed
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
}
