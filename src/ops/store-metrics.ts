import { isStoreUnavailable } from '../oidc/errors.js';
import type { Db } from '../store/db.js';
import type { RedisClient } from '../store/redis/client.js';
import type { Metrics } from './metrics.js';

/**
 * Store errors (issue #17) from the clients' own events, so nothing is added to the request path:
 * knex's `query-error` (unavailable: Postgres did not answer, see isStoreUnavailable; query: any other
 * failed statement) and ioredis' `error` (emitted while the connection is down and retried).
 */
export function watchStoreErrors(db: Db, redis: RedisClient, metrics: Pick<Metrics, 'storeError'>): void {
  db.on('query-error', (err: unknown) => metrics.storeError('postgres', isStoreUnavailable(err) ? 'unavailable' : 'query'));
  redis.on?.('error', () => metrics.storeError('redis', 'unavailable'));
}
