import type { RedisClient } from './client.js';

/**
 * A fixed-window request counter (issue #15: forgot-password requests): the count of requests under
 * `key` in the current window, this one included. The window starts with the first request (EXPIRE NX).
 */
export async function countInWindow(redis: RedisClient, key: string, windowSeconds: number): Promise<number> {
  const results = await redis.multi().incr(key).expire(key, windowSeconds, 'NX').exec();
  return Number(results?.[0]?.[1] ?? 0);
}
