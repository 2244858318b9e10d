import { randomUUID } from 'node:crypto';
import type { Sealer } from '../crypto/encryption.js';
import type { Db } from './db.js';

export type FactorType = 'totp' | 'webauthn';

/** A factor as the rest of stepup sees it: never the secret (STYLE: sanitized views). */
export interface Factor {
  id: string;
  accountId: string;
  type: FactorType;
  label: string;
  status: 'pending' | 'active';
  createdAt: Date;
  confirmedAt: Date | null;
  lastUsedAt: Date | null;
}

interface FactorRow {
  id: string;
  account_id: string;
  type: FactorType;
  label: string;
  status: 'pending' | 'active';
  secret_sealed: string | null;
  last_used_step: string | null;
  created_at: Date;
  confirmed_at: Date | null;
  last_used_at: Date | null;
}

const toFactor = (r: FactorRow): Factor => ({
  id: r.id,
  accountId: r.account_id,
  type: r.type,
  label: r.label,
  status: r.status,
  createdAt: r.created_at,
  confirmedAt: r.confirmed_at,
  lastUsedAt: r.last_used_at,
});

// the sealed TOTP secret is bound to its factor id: a ciphertext moved to another row will not open
const totpContext = (factorId: string) => `totp_secret:${factorId}`;

/** A pending enrollment older than this is dropped when the account enrolls again. */
export const PENDING_ENROLLMENT_SECONDS = 15 * 60;

export function createFactorsRepo(db: Db, sealer: Sealer) {
  return {
    async listForAccount(accountId: string, opts: { includePending?: boolean } = {}): Promise<Factor[]> {
      const q = db<FactorRow>('factors').where({ account_id: accountId }).orderBy('created_at', 'asc');
      if (!opts.includePending) q.where({ status: 'active' });
      return (await q).map(toFactor);
    },

    async createPendingTotp(accountId: string, label: string, secret: string): Promise<Factor> {
      const id = randomUUID();
      return db.transaction(async (trx) => {
        // one pending TOTP enrollment per account at a time
        await trx('factors').where({ account_id: accountId, type: 'totp', status: 'pending' }).delete();
        const [row] = await trx<FactorRow>('factors')
          .insert({ id, account_id: accountId, type: 'totp', label, status: 'pending', secret_sealed: sealer.seal(secret, totpContext(id)) })
          .returning('*');
        return toFactor(row as FactorRow);
      });
    },

    /** The TOTP secret and last accepted step, for verification only. */
    async totpSecret(factorId: string, accountId: string): Promise<{ secret: string; lastUsedStep: number | null; status: string } | undefined> {
      const row = await db<FactorRow>('factors').where({ id: factorId, account_id: accountId, type: 'totp' }).first();
      if (!row?.secret_sealed) return undefined;
      return {
        secret: sealer.open(row.secret_sealed, totpContext(row.id)),
        lastUsedStep: row.last_used_step === null ? null : Number(row.last_used_step),
        status: row.status,
      };
    },

    /**
     * RFC 6238 §5.2 / SPEC §3: a time step is accepted once per credential. A single conditional UPDATE
     * is the whole decision, so of N parallel submissions of one code (on any number of instances)
     * exactly one sees a row come back. Confirms a pending enrollment in the same statement.
     */
    async claimTotpStep(factorId: string, accountId: string, step: number): Promise<boolean> {
      const rows = await db('factors')
        .where({ id: factorId, account_id: accountId, type: 'totp' })
        .andWhere((q) => q.whereNull('last_used_step').orWhere('last_used_step', '<', step))
        .update({
          last_used_step: step,
          last_used_at: db.fn.now(),
          status: 'active',
          confirmed_at: db.raw('coalesce(confirmed_at, now())'),
        })
        .returning('id');
      return rows.length === 1;
    },

    async remove(factorId: string, accountId: string): Promise<boolean> {
      return (await db('factors').where({ id: factorId, account_id: accountId }).delete()) === 1;
    },
  };
}

export type FactorsRepo = ReturnType<typeof createFactorsRepo>;
