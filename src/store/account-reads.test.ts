import { describe, expect, it } from '@jest/globals';
import type { Account, AccountsRepo } from './accounts.repo.js';
import { createAccountReads } from './account-reads.js';
import type { Db } from './db.js';

/** Issue #20: the token paths' account cache, its bounds and its invalidation (the two-instance test is test/account-cache.int.test.ts). */
describe('accountForTokens', () => {
  const id = '00000000-0000-4000-8000-000000000001';
  const account = (name: string): Account => ({ id, email: 'a@example.com', name, disabledAt: null }) as unknown as Account;

  function setup(opts: { live?: boolean } = {}) {
    let row = account('first');
    let reads = 0;
    let release: (() => void) | undefined;
    const listeners: ((id: string | undefined) => void)[] = [];
    const changes = { live: opts.live ?? true, onChange: (l: (id: string | undefined) => void) => void listeners.push(l) };
    let clock = 0;
    const repo = {
      findById: async () => {
        reads += 1;
        const seen = row;
        if (release === undefined) return seen;
        await new Promise<void>((r) => (release = r));
        release = undefined;
        return seen;
      },
    } as unknown as AccountsRepo;
    const accountReads = createAccountReads({} as Db, repo, { changes, nowMs: () => clock });
    return {
      get: () => accountReads.accountForTokens(undefined, id),
      set: (name: string) => (row = account(name)),
      announce: (a: string | undefined) => listeners.forEach((l) => l(a)),
      reads: () => reads,
      hold: () => (release = () => undefined),
      release: () => release?.(),
      advance: (ms: number) => (clock += ms),
      changes,
    };
  }

  it('answers from memory for 5 s, then reads again', async () => {
    const t = setup();
    expect((await t.get())?.name).toBe('first');
    t.set('second');
    t.advance(4_999);
    expect((await t.get())?.name).toBe('first');
    t.advance(2);
    expect((await t.get())?.name).toBe('second');
    expect(t.reads()).toBe(2);
  });

  it('an announced change drops the entry at once; a full reset (the feed reconnected) drops all', async () => {
    const t = setup();
    await t.get();
    t.set('second');
    t.announce(id);
    expect((await t.get())?.name).toBe('second');
    t.set('third');
    t.announce(undefined);
    expect((await t.get())?.name).toBe('third');
  });

  it('a read in flight while the account changes does not put the old row back', async () => {
    const t = setup();
    t.hold();
    const pending = t.get();
    await new Promise((r) => setTimeout(r, 1));
    t.set('second');
    t.announce(id);
    t.release();
    expect((await pending)?.name).toBe('first'); // that request read before the change
    expect((await t.get())?.name).toBe('second'); // but it was not kept
  });

  it('not live (the change feed is down): every read goes to the database', async () => {
    const t = setup({ live: false });
    await t.get();
    await t.get();
    expect(t.reads()).toBe(2);
  });

  it('cached accounts are frozen: no request can change what another reads', async () => {
    const t = setup();
    expect(Object.isFrozen(await t.get())).toBe(true);
  });
});
