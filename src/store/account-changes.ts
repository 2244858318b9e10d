import type { Logger } from '../ops/logger.js';
import type { AccountsRepo } from './accounts.repo.js';
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './redis/client.js';
import { isCluster } from './redis/hash-tags.js';

/**
 * Issue #20: account reads may be cached across requests on the token paths for a few seconds, and a
 * change must drop them at once on the instance that writes and on the others. This is the feed of
 * changed account ids: `announce` tells this process's listeners synchronously and publishes the id
 * on a Redis channel; `listen` (the server, not the CLI, which only writes) subscribes on a connection
 * of its own.
 *
 * The feed says whether it is `live`: subscribed and connected. While it is not (not yet subscribed,
 * or reconnecting), a cache must not answer from memory, since a change announced meanwhile would be
 * missed; every (re)subscription also tells the listeners to forget everything (`undefined`), for the
 * messages lost while the connection was down. With the in-process store (the embedded default, one instance only,
 * SPEC §6) there is no other instance: the feed is live from the start and local only.
 */
export interface AccountChanges {
  announce(accountId: string): Promise<void>;
  /** `undefined`: forget every account (the feed was interrupted) */
  onChange(listener: (accountId: string | undefined) => void): void;
  /** true while every change made anywhere reaches the listeners */
  readonly live: boolean;
  listen(): void;
  close(): void;
}

export const accountChangesChannel = (prefix: string) => `${prefix}account-changed`;
/** The subscriber connection's name in CLIENT LIST: `stepup-account-changes:<key prefix>` (spaces and the like dropped). */
export const accountChangesConnectionName = (prefix: string) => `stepup-account-changes:${prefix.replace(/[^A-Za-z0-9:_.-]/g, '')}`;

export function createAccountChanges(redis: RedisClient, prefix: string, logger: Logger, opts: { external: boolean }): AccountChanges {
  const channel = accountChangesChannel(prefix);
  const listeners: ((accountId: string | undefined) => void)[] = [];
  const tell = (accountId: string | undefined) => {
    for (const l of listeners) l(accountId);
  };
  let subscriber: RedisClient | undefined;
  let live = !opts.external;
  let closed = false;
  return {
    get live() {
      return live && !closed;
    },
    onChange(listener) {
      listeners.push(listener);
    },
    async announce(accountId) {
      tell(accountId);
      if (!opts.external) return;
      try {
        await redis.publish(channel, accountId);
      } catch (err) {
        // the other instances drop the account within ACCOUNT_CACHE_SECONDS anyway (and a disabled
        // account's sessions and grants are revoked by the caller, which every token use checks)
        logger.warn({ err: { message: (err as Error).message } }, 'could not announce an account change to the other instances');
      }
    },
    listen() {
      if (!opts.external || subscriber || closed) return;
      // named, so an operator sees it in CLIENT LIST (a Cluster's connections keep their options)
      const sub = (isCluster(redis) ? (redis as Cluster).duplicate() : (redis as Redis).duplicate({ connectionName: accountChangesConnectionName(prefix) })) as RedisClient;
      subscriber = sub;
      sub.on('message', (ch: string, accountId: string) => {
        if (ch === channel) tell(accountId);
      });
      const down = () => {
        if (live) tell(undefined);
        live = false;
      };
      sub.on('close', down);
      sub.on('end', down);
      sub.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'account change feed: redis error'));
      // ioredis subscribes again by itself after a reconnection, before 'ready'
      sub.on('ready', () => {
        if (closed) return;
        sub.subscribe(channel).then(
          () => {
            tell(undefined);
            live = true;
          },
          (err: Error) => logger.warn({ err: { message: err.message } }, 'account change feed: could not subscribe'),
        );
      });
    },
    close() {
      closed = true;
      live = false;
      subscriber?.disconnect();
    },
  };
}

/** The repository's methods that change no existing account (reads, and create: a new id nobody cached). */
const NOT_CHANGING = new Set(['create', 'findById', 'findByEmail', 'emailsFor', 'list', 'search', 'count']);

/**
 * The accounts repository whose writes announce the account they changed (whatever a token path's
 * cached read depends on: disabled, email, name, admin role, password state). Every method but the
 * known reads is taken as a write of the account named by its first argument, so a write method added
 * later announces without anyone remembering to. The announcement follows the write, also when it
 * failed: the row may have changed anyway.
 */
export function announcingAccountWrites(accounts: AccountsRepo, changes: Pick<AccountChanges, 'announce'>): AccountsRepo {
  const wrapped: Record<string, unknown> = { ...accounts };
  for (const [name, method] of Object.entries(accounts)) {
    if (NOT_CHANGING.has(name) || typeof method !== 'function') continue;
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (method as (...a: unknown[]) => Promise<unknown>)(...args);
      } finally {
        if (typeof args[0] === 'string') await changes.announce(args[0]);
      }
    };
  }
  return wrapped as AccountsRepo;
}
