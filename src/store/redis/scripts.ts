import { createHash } from 'node:crypto';
import type { RedisClient } from './client.js';

/*
 * Lua scripts go by SHA1 (EVALSHA, and EVAL once when Redis does not know the script yet, e.g. after a
 * restart): sent as text, the oidc adapter's UPSERT alone is 1.4 KB to encode and write on every save
 * (issue #6 profile: Redis writes were the largest cost of a refresh). Explicit rather than ioredis
 * defineCommand, which ioredis-mock (the embedded default) handles differently for a variable number
 * of keys.
 */
export type Script = { lua: string; sha: string };

export const defineScript = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') });

export async function runScript(redis: RedisClient, { lua, sha }: Script, numberOfKeys: number, ...args: string[]): Promise<unknown> {
  try {
    return await redis.evalsha(sha, numberOfKeys, ...args);
  } catch (err) {
    if (!String((err as Error).message).includes('NOSCRIPT')) throw err;
    return redis.eval(lua, numberOfKeys, ...args);
  }
}
