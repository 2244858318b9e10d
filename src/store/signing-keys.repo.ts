import type { JWK } from 'jose';
import type { Sealer } from '../crypto/encryption.js';
import type { Db } from './db.js';

export interface SigningKey {
  kid: string;
  alg: string;
  privateJwk: JWK;
  publicJwk: JWK;
  createdAt: Date;
  retiredAt: Date | null;
}

const keyContext = (kid: string) => `signing_key:${kid}`;

export function createSigningKeysRepo(db: Db, sealer: Sealer) {
  return {
    async listPublished(): Promise<SigningKey[]> {
      const rows = await db('signing_keys').orderBy('created_at', 'desc');
      return rows.map((r: Record<string, unknown>) => ({
        kid: r.kid as string,
        alg: r.alg as string,
        publicJwk: r.public_jwk as JWK,
        privateJwk: JSON.parse(sealer.open(r.private_jwk_sealed as string, keyContext(r.kid as string))) as JWK,
        createdAt: r.created_at as Date,
        retiredAt: (r.retired_at as Date | null) ?? null,
      }));
    },
    /**
     * Adds keys and retires the previous active ones in one transaction, under an advisory lock so that
     * several instances starting together generate one key set.
     */
    async addAndRetire(keys: Array<{ kid: string; alg: string; privateJwk: JWK; publicJwk: JWK }>, onlyIfEmpty: boolean): Promise<boolean> {
      return db.transaction(async (trx) => {
        await trx.raw('SELECT pg_advisory_xact_lock(7301975114)');
        if (onlyIfEmpty) {
          const existing = await trx('signing_keys').whereNull('retired_at').first();
          if (existing) return false;
        }
        await trx('signing_keys').whereNull('retired_at').update({ retired_at: trx.fn.now() });
        for (const k of keys) {
          await trx('signing_keys').insert({
            kid: k.kid,
            alg: k.alg,
            public_jwk: JSON.stringify(k.publicJwk),
            private_jwk_sealed: sealer.seal(JSON.stringify(k.privateJwk), keyContext(k.kid)),
          });
        }
        return true;
      });
    },
    /** Adds active keys for algorithms that have none (under the same lock; no key is retired). */
    async addMissing(keys: Array<{ kid: string; alg: string; privateJwk: JWK; publicJwk: JWK }>): Promise<boolean> {
      return db.transaction(async (trx) => {
        await trx.raw('SELECT pg_advisory_xact_lock(7301975114)');
        let added = false;
        for (const k of keys) {
          // another instance may have added it meanwhile
          if (await trx('signing_keys').whereNull('retired_at').where({ alg: k.alg }).first()) continue;
          await trx('signing_keys').insert({
            kid: k.kid,
            alg: k.alg,
            public_jwk: JSON.stringify(k.publicJwk),
            private_jwk_sealed: sealer.seal(JSON.stringify(k.privateJwk), keyContext(k.kid)),
          });
          added = true;
        }
        return added;
      });
    },
    /** Drops retired keys older than the longest-lived token they could have signed. */
    async pruneRetiredBefore(cutoff: Date): Promise<number> {
      return db('signing_keys').whereNotNull('retired_at').where('retired_at', '<', cutoff).delete();
    },
  };
}

export type SigningKeysRepo = ReturnType<typeof createSigningKeysRepo>;
