import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { ClaimedEntry, OutboxRepo } from '../store/outbox.repo.js';
import { createOutboxWorker } from './worker.js';

/** The worker's decisions with a fake outbox and a fixed clock (issue #17): retry times, dead letters, expiry. */
const NOW = new Date('2026-12-06T03:00:00Z');
const entry = (over: Partial<ClaimedEntry> = {}): ClaimedEntry => ({
  id: 'e1',
  channel: 'webhook',
  kind: 'admin.user.disable',
  accountId: null,
  auditEventId: '1',
  payload: {},
  status: 'pending',
  attempts: 1,
  nextAttemptAt: NOW,
  expiresAt: null,
  lastError: null,
  createdAt: NOW,
  sentAt: null,
  ...over,
});

function fakeOutbox(entries: ClaimedEntry[]) {
  const marks: Array<[string, string, string | undefined]> = [];
  const repo = {
    claim: async () => entries.splice(0),
    markSent: async (id: string) => void marks.push(['sent', id, undefined]),
    markFailed: async (id: string, error: string, retryAt: Date | undefined) => void marks.push([retryAt ? 'retry' : 'dead', id, retryAt ? `${error} @ ${retryAt.toISOString()}` : error]),
    prune: async () => 0,
  } as unknown as OutboxRepo;
  return { repo, marks };
}

const worker = (repo: OutboxRepo, deliver: (e: ClaimedEntry) => Promise<void>) =>
  createOutboxWorker({ outbox: repo, deliveries: { webhook: { deliver } }, logger: pino({ level: 'silent' }), options: { clock: () => NOW, maxAttempts: 3, backoff: (n) => n * 1000 } });

describe('outbox worker (issue #17)', () => {
  it('marks a delivered entry sent', async () => {
    const { repo, marks } = fakeOutbox([entry()]);
    expect(await worker(repo, async () => undefined).runOnce()).toBe(1);
    expect(marks).toEqual([['sent', 'e1', undefined]]);
  });

  it.each([
    [1, 'retry', 'HTTP 500 @ 2026-12-06T03:00:01.000Z'],
    [2, 'retry', 'HTTP 500 @ 2026-12-06T03:00:02.000Z'],
    [3, 'dead', 'HTTP 500'],
  ])('a failure after attempt %i: %s (%s)', async (attempts, mark, detail) => {
    const { repo, marks } = fakeOutbox([entry({ attempts })]);
    await worker(repo, async () => {
      throw new Error('HTTP 500');
    }).runOnce();
    expect(marks).toEqual([[mark, 'e1', detail]]);
  });

  it('an entry past its expiry is a dead letter without a delivery (a reset link is never mailed late)', async () => {
    const { repo, marks } = fakeOutbox([entry({ channel: 'webhook', expiresAt: new Date(NOW.getTime() - 1) })]);
    let delivered = false;
    await worker(repo, async () => {
      delivered = true;
    }).runOnce();
    expect(delivered).toBe(false);
    expect(marks).toEqual([['dead', 'e1', 'expired before it could be delivered']]);
  });

  it('one failing entry does not hold the others of the batch', async () => {
    const { repo, marks } = fakeOutbox([entry({ id: 'a' }), entry({ id: 'b' })]);
    await worker(repo, async (e) => {
      if (e.id === 'a') throw new Error('timeout');
    }).runOnce();
    expect(marks.map((m) => m.slice(0, 2)).sort()).toEqual([
      ['retry', 'a'],
      ['sent', 'b'],
    ]);
  });
});
