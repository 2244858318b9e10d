import { randomUUID } from 'node:crypto';
import type { Db } from './db.js';

export function createRecoveryCodesRepo(db: Db) {
  return {
    /** A new set replaces the old one entirely (in one transaction). */
    async replace(accountId: string, hashes: string[]): Promise<void> {
      await db.transaction(async (trx) => {
        await trx('recovery_codes').where({ account_id: accountId }).delete();
        await trx('recovery_codes').insert(hashes.map((code_hash) => ({ id: randomUUID(), account_id: accountId, code_hash })));
      });
    },
    /** Single-use (SPEC §3): one conditional UPDATE decides, so of parallel uses exactly one wins. */
    async consume(accountId: string, hash: string): Promise<boolean> {
      const rows = await db('recovery_codes').where({ account_id: accountId, code_hash: hash }).whereNull('used_at').update({ used_at: db.fn.now() }).returning('id');
      return rows.length === 1;
    },
    /** Admin reset: the codes are factors too. */
    async removeAll(accountId: string): Promise<number> {
      return db('recovery_codes').where({ account_id: accountId }).delete();
    },
    async remaining(accountId: string): Promise<number> {
      const [row] = await db('recovery_codes').where({ account_id: accountId }).whereNull('used_at').count<{ count: string }[]>({ count: '*' });
      return Number(row?.count ?? 0);
    },
  };
}

export type RecoveryCodesRepo = ReturnType<typeof createRecoveryCodesRepo>;
