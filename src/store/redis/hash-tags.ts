import type { RedisClient } from './client.js';

/*
 * Redis Cluster (issue #18): the keys of one Lua script or one multi-key command must hash to one
 * slot. A key's slot is picked by its hash tag, the part inside the first `{…}`, so stepup puts the id
 * of the entity a key belongs to in braces (the layouts are documented beside the scripts:
 * oidc-adapter.ts, failure-limiter.ts). A single Redis ignores the braces.
 */

/**
 * The hash tag for an id: `{id}`. Braces (and `%`, so the escape is unambiguous) are percent-encoded:
 * a `}` inside the id would end the tag early and `{}` would be no tag at all.
 */
export const hashTag = (id: string) => `{${id.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}}`;


/**
 * Redis Cluster (ioredis Cluster) rather than one server (a single Redis, a Sentinel-managed master,
 * the in-process store). Only reads and deletes use it, to send one command where one server can
 * answer it; every write is the same sequence on every topology.
 */
export const isCluster = (redis: RedisClient) => (redis as { isCluster?: boolean }).isCluster === true;

/** GETs keys of any slots: one MGET on one server, one GET per key (sent together) on a Cluster. */
export async function getEach(redis: RedisClient, keys: string[]): Promise<Array<string | null>> {
  if (keys.length === 0) return [];
  if (!isCluster(redis)) return redis.mget(...keys);
  return Promise.all(keys.map((k) => redis.get(k)));
}

/**
 * Deletes keys of any slots: one DEL on one server, one DEL per key (sent together) on a Cluster, which
 * refuses a DEL of several keys that hash to different slots.
 */
export async function deleteEach(redis: RedisClient, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  if (!isCluster(redis)) await redis.del(...keys);
  else await Promise.all(keys.map((k) => redis.del(k)));
}
