import { randomUUID } from 'node:crypto';
import type { Db } from './db.js';
import { changeWith, type AlsoInTransaction } from './in-transaction.js';

export function createRecoveryCodesRepo(db: Db) {
  return {
    /** A new set replaces the old one entirely (in one transaction). */
    async replace(accountId: string, hashes: string[], also?: AlsoInTransaction<{ count: number }>): Promise<void> {
      await db.transaction(async (trx) => {
        await trx('recovery_codes').where({ account_id: accountId }).delete();
        await trx('recovery_codes').insert(hashes.map((code_hash) => ({ id: randomUUID(), account_id: accountId, code_hash })));
        await also?.(trx, { count: hashes.length });
      });
    },
    /**
     * Single-use (SPEC §3): one conditional UPDATE decides, so of parallel uses exactly one wins. With
     * `also` (the notice, issue #17), the codes left are counted in the same transaction.
     */
    async consume(accountId: string, hash: string, also?: AlsoInTransaction<{ remaining: number }>): Promise<boolean> {
      const used = async (q: Db) => (await q('recovery_codes').where({ account_id: accountId, code_hash: hash }).whereNull('used_at').update({ used_at: db.fn.now() }).returning('id')).length === 1;
      if (!also) return used(db);
      return db.transaction(async (trx) => {
        if (!(await used(trx))) return false;
        const [row] = await trx('recovery_codes').where({ account_id: accountId }).whereNull('used_at').count<{ count: string }[]>({ count: '*' });
        await also(trx, { remaining: Number(row?.count ?? 0) });
        return true;
      });
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
