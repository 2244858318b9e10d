import { describe, expect, it } from '@jest/globals';
import { announcingAccountWrites } from './account-changes.js';
import { createAccountsRepo } from './accounts.repo.js';
import type { Db } from './db.js';

/** Issue #20: every account write announces the account, so the token paths' caches drop it. */
describe('announcingAccountWrites', () => {
  // a database that refuses everything: the announcement must follow a failed write too
  const failingDb = (() => {
    throw new Error('no database here');
  }) as unknown as Db;
  const repo = createAccountsRepo(failingDb);
  const id = '00000000-0000-4000-8000-000000000001';

  it('announces the account after every write method of the repository, also when the write failed', async () => {
    const writes = Object.keys(repo).filter((k) => !['create', 'findById', 'findByEmail', 'emailsFor', 'list', 'search', 'count'].includes(k));
    expect(writes.length).toBeGreaterThanOrEqual(4);
    for (const name of writes) {
      const announced: string[] = [];
      const wrapped = announcingAccountWrites(repo, { announce: async (a) => void announced.push(a) });
      await (wrapped as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!(id, true).catch(() => undefined);
      expect({ name, announced }).toEqual({ name, announced: [id] });
    }
  });

  it('announces nothing for reads', async () => {
    const announced: string[] = [];
    const wrapped = announcingAccountWrites(repo, { announce: async (a) => void announced.push(a) });
    await wrapped.findById(id).catch(() => undefined);
    await wrapped.findByEmail('a@example.com').catch(() => undefined);
    expect(announced).toEqual([]);
  });
});
