import { randomBytes } from 'node:crypto';
import type { Db } from './db.js';

/**
 * The WebAuthn user handle (user.id) of each account: 32 random bytes, never the account id or the
 * email (WebAuthn §14.6.1: the handle must not identify the user to anyone who sees the credential).
 * Created on first use with one conditional UPDATE, so two parallel registrations agree on it.
 */
export function createWebAuthnUsersRepo(db: Db) {
  return {
    async handleFor(accountId: string): Promise<string> {
      const candidate = randomBytes(32).toString('base64url');
      const [row] = await db('accounts')
        .where({ id: accountId })
        .update({ webauthn_user_handle: db.raw('coalesce(webauthn_user_handle, ?)', [candidate]) })
        .returning<{ webauthn_user_handle: string }[]>('webauthn_user_handle');
      if (!row) throw new Error('no such account');
      return row.webauthn_user_handle;
    },
    async existingHandle(accountId: string): Promise<string | undefined> {
      const row = await db('accounts').where({ id: accountId }).first<{ webauthn_user_handle: string | null } | undefined>('webauthn_user_handle');
      return row?.webauthn_user_handle ?? undefined;
    },
  };
}

export type WebAuthnUsersRepo = ReturnType<typeof createWebAuthnUsersRepo>;
