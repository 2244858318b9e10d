import type { Context } from 'koa';
import type { Knex } from 'knex';
import type { Logger } from '../ops/logger.js';
import type { AlsoInTransaction } from '../store/in-transaction.js';
import type { OutboxRepo } from '../store/outbox.repo.js';
import { contextOf, type Notification, type NotificationInput } from './notification.js';
import { summarize } from './wording.js';

/**
 * How a change tells its person (SPEC §4, issue #17 item 2).
 *
 * - `within(ctx, n)` for a change made in Postgres: hand the result to the repository method making the
 *   change (its last argument); the notification is written in the change's own transaction, so a
 *   crash loses neither or both. `n` may be a function of what the change returned (the codes left).
 * - `send(ctx, n)` for a change that is not a Postgres write (a lockout lives in Redis): written right
 *   after the change; a crash in between loses that one notice (said in the README).
 *
 * With email delivery (SMTP_URL) the notification goes to the outbox, from which the worker mails it;
 * without, it is a structured log line (written once the transaction committed), never with a secret
 * (a Notification carries none by construction: notification.ts).
 */
export interface Notifier {
  within<R = unknown>(ctx: Context | undefined, n: NotificationInput | ((result: R) => NotificationInput)): AlsoInTransaction<R>;
  send(ctx: Context | undefined, n: NotificationInput): Promise<void>;
}

/** Where notifications are stored for delivery (the outbox); `q` is the change's transaction or the pool. */
export interface NotificationStore {
  add(q: Knex, n: Notification): Promise<void>;
}

export function createNotifier(deps: { logger: Logger; db: Knex; now: () => number; outbox?: NotificationStore }): Notifier {
  const complete = (ctx: Context | undefined, n: NotificationInput) => ({ ...n, context: contextOf(ctx, new Date(deps.now() * 1000)) }) as Notification;
  const log = (n: Notification) => deps.logger.info({ notification: logFields(n) }, `user notification: ${summarize(n).subject}`);
  return {
    within(ctx, input) {
      return async (trx, result) => {
        const n = complete(ctx, typeof input === 'function' ? input(result) : input);
        if (deps.outbox) return deps.outbox.add(trx, n);
        // the log line says what happened only once it did: after the commit, never for a rollback
        trx.executionPromise.then(
          () => log(n),
          () => undefined,
        );
      };
    },
    async send(ctx, input) {
      const n = complete(ctx, input);
      if (deps.outbox) return deps.outbox.add(deps.db, n);
      log(n);
    },
  };
}

/** The log line: the kind, the account, the facts; never the raw user agent, never a secret. */
export function logFields(n: Notification): Record<string, unknown> {
  const { context, ...rest } = n;
  return { ...rest, at: context.at, ip: context.ip, device: context.device };
}

/** Notifications as email entries of the outbox (SMTP_URL set): the recipient is read when the mail is sent. */
export const emailOutbox = (outbox: OutboxRepo): NotificationStore => ({
  add: async (q, n) => void (await outbox.add(q, { channel: 'email', kind: n.kind, accountId: n.accountId, payload: n as unknown as Record<string, unknown> })),
});
