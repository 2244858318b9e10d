import type { Logger } from '../ops/logger.js';
import type { ClaimedEntry, OutboxChannel, OutboxRepo } from '../store/outbox.repo.js';
import { defaultBackoff, type Backoff } from './backoff.js';

/**
 * The outbox worker (issue #17): runs in every server process, takes due entries with
 * `FOR UPDATE SKIP LOCKED` (outbox.repo.ts claim), delivers them, and marks each sent, or due again
 * after a backoff, or dead after `maxAttempts`.
 *
 * Exactly once, and the one window where it is not: an entry is marked sent after its delivery
 * succeeded. A crash (or a lost connection to Postgres) after the mail server or the receiver accepted
 * it and before the mark means it is delivered again when its lease ends, with the same id (the mail's
 * Message-ID, the webhook's `webhook-id`) so the receiver can drop the copy. Everything else (a crash
 * before the delivery, a failed delivery, several instances polling) sends nothing twice and loses
 * nothing.
 */
export interface Delivery {
  /** Delivers one entry; throws when it was not delivered (the message becomes the entry's last_error). */
  deliver(entry: ClaimedEntry): Promise<void>;
}

export interface OutboxWorkerOptions {
  /** how often to look for due entries when the last look found none (ms) */
  pollMs?: number;
  /** entries taken per look */
  batch?: number;
  /** attempts before an entry is a dead letter */
  maxAttempts?: number;
  /** the wait before the next attempt, by attempts made so far */
  backoff?: Backoff;
  /** how long a taken entry is reserved for its worker: longer than any delivery's timeout */
  leaseMs?: number;
  /** delivered entries are dropped after this long (dead letters stay until an admin acts) */
  keepSentMs?: number;
  /** the worker's clock (tests move it) */
  clock?: () => Date;
}

export const OUTBOX_DEFAULTS = {
  pollMs: 2_000,
  batch: 20,
  // with the default backoff: about 10 hours of retries before a dead letter
  maxAttempts: 12,
  // deliveries time out after 30 s at most (mail: socket timeouts, webhooks: WEBHOOK_TIMEOUT_MS)
  leaseMs: 120_000,
  keepSentMs: 30 * 24 * 3600_000,
} as const;

const PRUNE_EVERY_MS = 3600_000;

export interface OutboxWorker {
  start(): void;
  /** Stops polling and waits for the deliveries in progress. */
  stop(): Promise<void>;
  /** One look: delivers what is due now; returns how many entries were taken (tests call it directly). */
  runOnce(): Promise<number>;
  /** Runs until nothing is due (tests). */
  drain(): Promise<void>;
  /** An entry was just written: look now rather than at the next poll. */
  wake(): void;
}

export function createOutboxWorker(deps: {
  outbox: OutboxRepo;
  deliveries: Partial<Record<OutboxChannel, Delivery>>;
  logger: Logger;
  options?: OutboxWorkerOptions;
  /** each failed delivery attempt (the metrics, src/ops/metrics.ts) */
  onDeliveryFailed?: (channel: OutboxChannel) => void;
}): OutboxWorker {
  const o = { ...OUTBOX_DEFAULTS, backoff: defaultBackoff, clock: () => new Date(), ...deps.options };
  const channels = (Object.keys(deps.deliveries) as OutboxChannel[]).filter((c) => deps.deliveries[c]);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;
  let lastPrune = 0;
  let woken = false;

  const deliverOne = async (entry: ClaimedEntry) => {
    const log = { outbox: { id: entry.id, channel: entry.channel, kind: entry.kind, attempt: entry.attempts } };
    if (entry.expiresAt && entry.expiresAt.getTime() <= o.clock().getTime()) {
      // a reset link that no longer works is not worth a late mail
      await deps.outbox.markFailed(entry.id, 'expired before it could be delivered', undefined);
      deps.logger.warn(log, 'outbox entry expired undelivered');
      return;
    }
    try {
      await deps.deliveries[entry.channel]!.deliver(entry);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      deps.onDeliveryFailed?.(entry.channel);
      const retryAt = entry.attempts >= o.maxAttempts ? undefined : new Date(o.clock().getTime() + o.backoff(entry.attempts));
      await deps.outbox.markFailed(entry.id, message, retryAt);
      if (retryAt) deps.logger.warn({ ...log, error: message, retryAt: retryAt.toISOString() }, 'outbox delivery failed: will retry');
      else deps.logger.error({ ...log, error: message }, 'outbox delivery failed: dead letter');
      return;
    }
    await deps.outbox.markSent(entry.id);
    deps.logger.info(log, 'outbox entry delivered');
  };

  const runOnce = async (): Promise<number> => {
    const entries = await deps.outbox.claim(channels, o.batch, o.leaseMs);
    // one receiver's slowness should not hold the others: the batch goes out in parallel
    await Promise.all(entries.map((e) => deliverOne(e).catch((err: Error) => deps.logger.error({ err: { message: err.message }, outbox: { id: e.id } }, 'outbox entry not marked'))));
    const now = o.clock().getTime();
    if (now - lastPrune > PRUNE_EVERY_MS) {
      lastPrune = now;
      await deps.outbox.prune(new Date(now - o.keepSentMs));
    }
    return entries.length;
  };

  const loop = async () => {
    timer = undefined;
    if (stopped) return;
    let taken = 0;
    woken = false;
    try {
      running = runOnce();
      taken = (await running) as number;
    } catch (err) {
      // Postgres away: the entries wait in the table; look again later
      deps.logger.warn({ err: { message: (err as Error).message } }, 'outbox poll failed');
    } finally {
      running = undefined;
    }
    // a full batch: more may be due at once
    if (!stopped) timer = setTimeout(() => void loop(), taken >= o.batch || woken ? 0 : o.pollMs);
  };

  return {
    start() {
      if (!stopped || channels.length === 0) return;
      stopped = false;
      timer = setTimeout(() => void loop(), 0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
    runOnce,
    wake() {
      if (stopped) return;
      woken = true;
      // idle (waiting for the next poll): look now; busy: the loop looks again as soon as it is done
      if (timer && !running) {
        clearTimeout(timer);
        timer = setTimeout(() => void loop(), 0);
      }
    },
    async drain() {
      for (let i = 0; i < 1000 && (await runOnce()) > 0; i++);
    },
  };
}
