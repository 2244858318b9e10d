import Router from '@koa/router';
import type { RedisClient } from '../store/redis/client.js';
import type { Db } from '../store/db.js';

const READINESS_TIMEOUT_MS = 2_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);
}

/** /healthz: the process is up. /readyz: Postgres and Redis answer (SPEC §5 operations). */
export function createHealthRouter(db: Db, redis: RedisClient): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const [postgres, redisOk] = await Promise.all([
      withTimeout(db.raw('select 1'), READINESS_TIMEOUT_MS).then(() => true, () => false),
      withTimeout(redis.ping(), READINESS_TIMEOUT_MS).then(() => true, () => false),
    ]);
    const ready = postgres && redisOk;
    ctx.status = ready ? 200 : 503;
    if (!ready) ctx.set('Retry-After', '5');
    ctx.body = { status: ready ? 'ready' : 'unavailable', checks: { postgres: postgres ? 'ok' : 'down', redis: redisOk ? 'ok' : 'down' } };
  });
  return router;
}
