import { randomUUID } from 'node:crypto';
import type { Sealer } from '../crypto/encryption.js';
import { authenticatorModel } from '../factors/webauthn/authenticator-models.js';
import type { Knex } from 'knex';
import type { Db } from './db.js';
import { changeWith, type AlsoInTransaction } from './in-transaction.js';

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
  /** WebAuthn only: what was registered, for display and for the step rules (never the public key) */
  webauthn?: WebAuthnFactorInfo;
}

export interface WebAuthnFactorInfo {
  aaguid: string | null;
  /** the AAGUID's model name where known (SPEC §3) */
  authenticatorModel: string | null;
  /** BE as registered: false = device-bound */
  backupEligible: boolean;
  /** BS as last seen */
  backupState: boolean | null;
  userVerifying: boolean;
  attested: boolean;
  transports: string[];
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
  credential_id: string | null;
  public_key: string | null;
  sign_count: string | null;
  transports: string[] | null;
  aaguid: string | null;
  backup_eligible: boolean | null;
  backup_state: boolean | null;
  user_verifying: boolean | null;
  attested: boolean | null;
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
  ...(r.type === 'webauthn'
    ? {
        webauthn: {
          aaguid: r.aaguid,
          authenticatorModel: authenticatorModel(r.aaguid) ?? null,
          backupEligible: r.backup_eligible === true,
          backupState: r.backup_state,
          userVerifying: r.user_verifying === true,
          attested: r.attested === true,
          transports: r.transports ?? [],
        },
      }
    : {}),
});

/** What an assertion is verified against (SPEC §3). */
export interface StoredWebAuthnCredential {
  factorId: string;
  accountId: string;
  credentialId: string;
  publicKey: Uint8Array;
  signCount: number;
  transports: string[];
  backupEligible: boolean;
  userVerifying: boolean;
  attested: boolean;
}

export interface NewWebAuthnCredential {
  label: string;
  credentialId: string;
  publicKey: Uint8Array;
  signCount: number;
  transports: string[];
  aaguid: string;
  backupEligible: boolean;
  backupState: boolean;
  userVerifying: boolean;
  attested: boolean;
}

/** Stores `hashes` as the account's recovery codes unless it still has unused ones; inside the caller's transaction. */
async function issueFirstRecoveryCodes(trx: Knex.Transaction, accountId: string, hashes: string[]): Promise<boolean> {
  if (hashes.length === 0) return false;
  const [unused] = await trx('recovery_codes').where({ account_id: accountId }).whereNull('used_at').count<{ count: string }[]>({ count: '*' });
  if (Number(unused?.count ?? 0) > 0) return false;
  await trx('recovery_codes').where({ account_id: accountId }).delete();
  await trx('recovery_codes').insert(hashes.map((code_hash) => ({ id: randomUUID(), account_id: accountId, code_hash })));
  return true;
}

export class DuplicateCredentialError extends Error {}

const toStoredCredential = (r: FactorRow): StoredWebAuthnCredential => ({
  factorId: r.id,
  accountId: r.account_id,
  credentialId: r.credential_id!,
  publicKey: new Uint8Array(Buffer.from(r.public_key!, 'base64url')),
  signCount: Number(r.sign_count ?? 0),
  transports: r.transports ?? [],
  backupEligible: r.backup_eligible === true,
  userVerifying: r.user_verifying === true,
  attested: r.attested === true,
});

// the sealed TOTP secret is bound to its factor id: a ciphertext moved to another row will not open
const totpContext = (factorId: string) => `totp_secret:${factorId}`;

export function createFactorsRepo(db: Db, sealer: Sealer) {
  return {
    /** Issue #15, the admin's user list: each account's active second factors, in words ("Authenticator app", "Passkey"). */
    async activeKindsFor(accountIds: string[]): Promise<Map<string, string[]>> {
      const out = new Map<string, string[]>();
      const ids = accountIds.filter((id) => /^[0-9a-f-]{36}$/i.test(id));
      if (ids.length === 0) return out;
      const rows = (await db('factors').whereIn('account_id', ids).where({ status: 'active' }).orderBy('created_at', 'asc').select('account_id', 'type', 'user_verifying')) as Array<{ account_id: string; type: string; user_verifying: boolean | null }>;
      for (const r of rows) {
        const kind = r.type === 'totp' ? 'Authenticator app' : r.user_verifying ? 'Passkey' : 'Security key';
        const kinds = out.get(r.account_id) ?? [];
        if (!kinds.includes(kind)) kinds.push(kind);
        out.set(r.account_id, kinds);
      }
      return out;
    },
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

    /**
     * Confirms a pending TOTP enrollment with its first code and, when the account has no unused recovery
     * code left, stores the new set (SPEC §3: issued with the first authenticator app). One transaction
     * (issue #7): a crash half-way leaves the enrollment pending and the old codes, never an active factor
     * without its codes. The conditional UPDATE is the same single-use decision as claimTotpStep.
     * Returns undefined when the step is not accepted (replayed, or the factor is no longer pending).
     */
    async confirmTotpEnrollment(factorId: string, accountId: string, step: number, recoveryCodeHashes: string[], also?: AlsoInTransaction<Factor>): Promise<{ recoveryCodesIssued: boolean } | undefined> {
      return db.transaction(async (trx) => {
        const rows = await trx('factors')
          .where({ id: factorId, account_id: accountId, type: 'totp', status: 'pending' })
          .andWhere((q) => q.whereNull('last_used_step').orWhere('last_used_step', '<', step))
          .update({ last_used_step: step, last_used_at: trx.fn.now(), status: 'active', confirmed_at: trx.fn.now() })
          .returning('*');
        if (rows.length !== 1) return undefined;
        const recoveryCodesIssued = await issueFirstRecoveryCodes(trx, accountId, recoveryCodeHashes);
        await also?.(trx, toFactor(rows[0] as FactorRow));
        return { recoveryCodesIssued };
      });
    },

    /**
     * A verified registration is active at once: the ceremony itself is the confirmation. With
     * `recoveryCodeHashes`, an account without unused recovery codes gets them in the same transaction
     * (issue #7: never a first second factor without its codes, nor codes without the factor).
     */
    async createWebAuthn(accountId: string, c: NewWebAuthnCredential, recoveryCodeHashes: string[] = [], also?: AlsoInTransaction<Factor>): Promise<Factor & { recoveryCodesIssued: boolean }> {
      try {
        return await db.transaction(async (trx) => {
          const [row] = await trx<FactorRow>('factors')
            .insert({
              id: randomUUID(),
              account_id: accountId,
              type: 'webauthn',
              label: c.label,
              status: 'active',
              confirmed_at: db.fn.now() as unknown as Date,
              credential_id: c.credentialId,
              public_key: Buffer.from(c.publicKey).toString('base64url'),
              sign_count: String(c.signCount),
              transports: JSON.stringify(c.transports) as unknown as string[],
              aaguid: c.aaguid,
              backup_eligible: c.backupEligible,
              backup_state: c.backupState,
              user_verifying: c.userVerifying,
              attested: c.attested,
            })
            .returning('*');
          const factor = toFactor(row as FactorRow);
          const recoveryCodesIssued = await issueFirstRecoveryCodes(trx, accountId, recoveryCodeHashes);
          await also?.(trx, factor);
          return { ...factor, recoveryCodesIssued };
        });
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw new DuplicateCredentialError('this authenticator is already registered');
        throw err;
      }
    },

    /** An active credential by its id (any account: the caller checks it belongs to the account being stepped up). */
    async findWebAuthnCredential(credentialId: string): Promise<StoredWebAuthnCredential | undefined> {
      if (credentialId.length > 1400 || credentialId.includes('\u0000')) return undefined;
      const row = await db<FactorRow>('factors').where({ credential_id: credentialId, type: 'webauthn', status: 'active' }).first();
      return row ? toStoredCredential(row) : undefined;
    },

    async webAuthnCredentials(accountId: string): Promise<StoredWebAuthnCredential[]> {
      const rows = await db<FactorRow>('factors').where({ account_id: accountId, type: 'webauthn', status: 'active' }).orderBy('created_at', 'asc');
      return rows.map(toStoredCredential);
    },

    /**
     * SPEC §3: the stored counter moves forward only. The compare-and-set is the decision, so of two
     * parallel assertions reporting the same counter only one passes. A counter of 0 on both sides is
     * an authenticator that does not count (allowed).
     */
    async recordWebAuthnUse(factorId: string, previousCount: number, newCount: number, backupState: boolean): Promise<boolean> {
      const rows = await db('factors')
        .where({ id: factorId, type: 'webauthn', sign_count: String(previousCount) })
        .update({ sign_count: String(newCount), backup_state: backupState, last_used_at: db.fn.now() })
        .returning('id');
      return rows.length === 1;
    },

    async rename(factorId: string, accountId: string, label: string): Promise<boolean> {
      return (await db('factors').where({ id: factorId, account_id: accountId }).update({ label })) === 1;
    },

    async remove(factorId: string, accountId: string, also?: AlsoInTransaction<boolean>): Promise<boolean> {
      return changeWith(db, also, async (q) => (await q('factors').where({ id: factorId, account_id: accountId }).delete()) === 1, (removed) => removed);
    },

    /** Admin reset (issue #5): every factor of the account, pending ones included. Returns how many. */
    async removeAll(accountId: string): Promise<number> {
      return db('factors').where({ account_id: accountId }).delete();
    },

    /**
     * Admin reset (issue #5): every factor (pending ones included) and every recovery code, in one
     * transaction with `also` (issue #17: the notice), so a crash never leaves codes without factors.
     */
    async resetSecondFactors(accountId: string, also?: AlsoInTransaction<{ factors: number; recoveryCodes: number }>): Promise<{ factors: number; recoveryCodes: number }> {
      return db.transaction(async (trx) => {
        const result = { factors: await trx('factors').where({ account_id: accountId }).delete(), recoveryCodes: await trx('recovery_codes').where({ account_id: accountId }).delete() };
        await also?.(trx, result);
        return result;
      });
    },

    /**
     * Admin API TOTP import (migration from another provider): the secret is already in use on the
     * user's device, so the factor is active at once; sealed like an enrolled secret. No step is
     * recorded as used: the next valid code is accepted once, as usual.
     */
    async importTotp(accountId: string, label: string, secret: string, also?: AlsoInTransaction<Factor>): Promise<Factor> {
      const id = randomUUID();
      return changeWith(
        db,
        also,
        async (q) => {
          const [row] = await q<FactorRow>('factors')
            .insert({ id, account_id: accountId, type: 'totp', label, status: 'active', secret_sealed: sealer.seal(secret, totpContext(id)), confirmed_at: db.fn.now() as unknown as Date })
            .returning('*');
          return toFactor(row as FactorRow);
        },
        () => true,
      );
    },
  };
}

export type FactorsRepo = ReturnType<typeof createFactorsRepo>;
