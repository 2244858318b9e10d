import { createHash, randomBytes } from 'node:crypto';
import type { Db } from './db.js';

/**
 * Forgot-password links (issue #15 item 4). The token is 256 random bits; only its SHA-256 is stored,
 * so a copy of the database cannot be turned into working links. A link works once (the UPDATE that
 * uses it is conditional on `used_at IS NULL`) and for RESET_LINK_TTL_SECONDS.
 */
export const RESET_LINK_TTL_SECONDS = 15 * 60;

const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('base64url');
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function createPasswordResetsRepo(db: Db) {
  return {
    /** A new link token for the account; the token is returned once and never stored. */
    async issue(accountId: string, now: number): Promise<{ token: string; expiresAt: Date }> {
      const token = randomBytes(32).toString('base64url');
      const expiresAt = new Date((now + RESET_LINK_TTL_SECONDS) * 1000);
      await db('password_resets').insert({ token_hash: hashToken(token), account_id: accountId, expires_at: expiresAt });
      return { token, expiresAt };
    },
    /** The account a still-usable token belongs to (showing the form does not use the link). */
    async peek(token: string, now: number): Promise<string | undefined> {
      if (!TOKEN_SHAPE.test(token)) return undefined;
      const row = (await db('password_resets')
        .where({ token_hash: hashToken(token) })
        .whereNull('used_at')
        .andWhere('expires_at', '>', new Date(now * 1000))
        .first('account_id')) as { account_id: string } | undefined;
      return row?.account_id;
    },
    /**
     * Uses the link: exactly one caller wins (conditional UPDATE); every other link of the account is
     * dropped with it. Returns the account id, or undefined when unknown, used or expired.
     */
    async consume(token: string, now: number): Promise<string | undefined> {
      if (!TOKEN_SHAPE.test(token)) return undefined;
      const [row] = (await db('password_resets')
        .where({ token_hash: hashToken(token) })
        .whereNull('used_at')
        .andWhere('expires_at', '>', new Date(now * 1000))
        .update({ used_at: new Date(now * 1000) })
        .returning('account_id')) as Array<{ account_id: string }>;
      if (!row) return undefined;
      await db('password_resets').where({ account_id: row.account_id }).whereNull('used_at').delete();
      return row.account_id;
    },
  };
}

export type PasswordResetsRepo = ReturnType<typeof createPasswordResetsRepo>;
