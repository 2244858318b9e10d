import { Redis } from 'ioredis';
import RedisMock from 'ioredis-mock';

const RECONNECT_MAX_DELAY_MS = 1_000;

/**
 * REDIS_URL absent: an in-process Redis (ioredis-mock, Lua included) so the embedded default runs
 * the same code as production; single instance only (SPEC §6).
 */
export function createRedis(url: string | undefined): Redis {
  if (!url) return new (RedisMock as unknown as typeof Redis)();
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
