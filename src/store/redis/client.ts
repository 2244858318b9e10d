import { createRequire } from 'node:module';
import { Redis } from 'ioredis';

const RECONNECT_MAX_DELAY_MS = 1_000;

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
    // (503). A command waits for one reconnection attempt (at most RECONNECT_MAX_DELAY_MS), so during an
    // outage a request is refused within about a second, and stepup is back within a second of Redis.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(times * 200, RECONNECT_MAX_DELAY_MS),
  });
}
