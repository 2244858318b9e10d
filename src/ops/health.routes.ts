import Router from '@koa/router';
import type { RedisClient } from '../store/redis/client.js';
import type { Db } from '../store/db.js';
import type { Store } from './metrics.js';

const READINESS_TIMEOUT_MS = 2_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);
}

export type StoreReadiness = Record<Store, boolean>;
export type StoreProbe = () => Promise<StoreReadiness>;

/**
 * Pings Postgres and Redis (each bounded by a timeout) and tells `observe` how each went and how
 * long it took: the readiness check and the metrics' store gauges (issue #17) are the same ping.
 */
export function createStoreProbe(db: Db, redis: RedisClient, observe?: (store: Store, ok: boolean, seconds: number) => void): StoreProbe {
  const ping = async (store: Store, call: () => Promise<unknown>) => {
    const started = process.hrtime.bigint();
    const ok = await withTimeout(call(), READINESS_TIMEOUT_MS).then(() => true, () => false);
    observe?.(store, ok, Number(process.hrtime.bigint() - started) / 1e9);
    return ok;
  };
  return async () => {
    const [postgres, redisOk] = await Promise.all([ping('postgres', () => db.raw('select 1')), ping('redis', () => redis.ping())]);
    return { postgres, redis: redisOk };
  };
}

/** /healthz: the process is up. /readyz: Postgres and Redis answer (SPEC §5 operations). On the public and the management port. */
export function createHealthRouter(probe: StoreProbe): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const checks = await probe();
    const ready = checks.postgres && checks.redis;
    ctx.status = ready ? 200 : 503;
    if (!ready) ctx.set('Retry-After', '5');
    ctx.body = { status: ready ? 'ready' : 'unavailable', checks: { postgres: checks.postgres ? 'ok' : 'down', redis: checks.redis ? 'ok' : 'down' } };
  });
  return router;
}
