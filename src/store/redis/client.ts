import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

/**
 * One client type for the three topologies: a single server (REDIS_URL), a Sentinel-managed master
 * (REDIS_SENTINELS) and a Redis Cluster (REDIS_CLUSTER_NODES). Everything stepup sends is either one
 * key or one Lua script over keys sharing a hash tag (see oidc-adapter.ts), so the same code runs on all.
 */
export type RedisClient = Redis | Cluster;

export interface HostPort {
  host: string;
  port: number;
}

/** Where Redis is; at most one of url, sentinels and clusterNodes (config/env.ts checks). */
export interface RedisConnection {
  url?: string;
  sentinels?: HostPort[];
  clusterNodes?: HostPort[];
  /** the master group the sentinels watch (`sentinel monitor <name> …`) */
  sentinelName?: string;
  sentinelPassword?: string;
  /** the data nodes' password (Sentinel and Cluster; with REDIS_URL it goes in the URL) */
  password?: string;
  /** TLS to the Sentinel or Cluster nodes (REDIS_URL says it with rediss://) */
  tls?: boolean;
  /** PEM CA bundle the servers' certificates must chain to (default: Node's CA store) */
  tlsCaFile?: string;
}

const RECONNECT_MAX_DELAY_MS = 1_000;
const reconnectDelay = (times: number) => Math.min(times * 200, RECONNECT_MAX_DELAY_MS);

/*
 * Issue #20: commands issued in the same event-loop turn (the requests being served at once, and a
 * request's parallel reads and index updates) go to Redis in one write. Each socket write is a system
 * call, which profiles showed as the largest single cost of a token request in this VM.
 */
const AUTO_PIPELINING = { enableAutoPipelining: true } as const;

/*
 * Fail a command fast while Redis is unreachable instead of queueing it forever: callers fail closed
 * (503). A command waits for one reconnection attempt (at most RECONNECT_MAX_DELAY_MS), so during an
 * outage a request is refused within about a second, and stepup is back within a second of Redis.
 */
const FAIL_FAST: RedisOptions = {
  ...AUTO_PIPELINING,
  maxRetriesPerRequest: 1,
  enableOfflineQueue: true,
  connectTimeout: 5_000,
  retryStrategy: reconnectDelay,
};

/**
 * A failover or resharding answers some commands with READONLY (a demoted master still connected),
 * or a cluster node that just lost its slots: reconnect (2 = and resend the command), so the client
 * follows the new master without a restart.
 */
const followFailover = (err: Error) => (/^READONLY|^MASTERDOWN/.test(err.message) ? 2 : false);

export function createRedis(connection: RedisConnection): RedisClient {
  const tls: ConnectionOptions | undefined =
    connection.tls || connection.url?.startsWith('rediss:') ? { ...(connection.tlsCaFile ? { ca: readFileSync(connection.tlsCaFile) } : {}) } : undefined;
  if (connection.clusterNodes?.length) {
    return new Cluster(connection.clusterNodes, {
      ...AUTO_PIPELINING,
      enableOfflineQueue: true,
      clusterRetryStrategy: reconnectDelay,
      // a slot without a master (its node failed, the replica not yet promoted): retry briefly, then fail closed
      retryDelayOnClusterDown: 200,
      retryDelayOnFailover: 200,
      slotsRefreshTimeout: 2_000,
      redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 5_000, password: connection.password, reconnectOnError: followFailover, ...(tls ? { tls } : {}) },
    });
  }
  if (connection.sentinels?.length) {
    return new Redis({
      ...FAIL_FAST,
      sentinels: connection.sentinels,
      name: connection.sentinelName,
      sentinelPassword: connection.sentinelPassword,
      password: connection.password,
      // no failoverDetector: its +switch-master arriving while ioredis is reconnecting ends the client for
      // good (ioredis 5.11: the connector's connect() sees itself disconnected and the client goes to
      // 'end'); each reconnection asks the sentinels anyway, at most a second apart
      sentinelRetryStrategy: reconnectDelay,
      reconnectOnError: followFailover,
      ...(tls ? { tls, enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
    });
  }
  if (connection.url) return new Redis(connection.url, { ...FAIL_FAST, reconnectOnError: followFailover, ...(tls ? { tls } : {}) });
  return createInProcessRedis();
}

/**
 * No Redis configured: an in-process Redis (ioredis-mock, Lua included) so the embedded default runs
 * the same code as production; single instance only (SPEC §6).
 */
function createInProcessRedis(): RedisClient {
  // loaded only here (a CommonJS package, so synchronously): about 19 MiB of resident memory that a
  // server with Redis configured never needs (issue #6)
  const RedisMock = createRequire(import.meta.url)('ioredis-mock') as typeof Redis;
  return new RedisMock();
}

/** True when a Redis is configured (not the in-process store). */
export const isExternalRedis = (c: RedisConnection) => Boolean(c.url || c.sentinels?.length || c.clusterNodes?.length);
