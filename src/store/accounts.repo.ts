import { randomUUID } from 'node:crypto';
import type { Db } from './db.js';
import { changeWith, type AlsoInTransaction } from './in-transaction.js';

export interface Account {
  id: string;
  email: string;
  name: string | null;
  isAdmin: boolean;
  hasPassword: boolean;
  /** issue #15: the next sign-in with the password asks for a new one first */
  passwordChangeRequired: boolean;
  disabledAt: Date | null;
  createdAt: Date;
}

/** The password hash is deliberately not part of Account: only the password factor reads it. */
export interface AccountRow {
  id: string;
  email: string;
  name: string | null;
  password_hash: string | null;
  is_admin: boolean;
  password_change_required?: boolean;
  disabled_at: Date | null;
  created_at: Date;
}

export const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  email: r.email,
  name: r.name,
  isAdmin: r.is_admin,
  hasPassword: r.password_hash !== null,
  passwordChangeRequired: r.password_change_required === true,
  disabledAt: r.disabled_at,
  createdAt: r.created_at,
});

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

/** Postgres text cannot hold NUL, and no stored email is longer than RFC 5321 allows: such input finds nothing. */
export const searchableEmail = (email: string) => !email.includes('\u0000') && email.length <= 254;

export class DuplicateEmailError extends Error {}

export function createAccountsRepo(db: Db) {
  return {
    async create(input: { email: string; name?: string; passwordHash: string; isAdmin?: boolean }): Promise<Account> {
      try {
        const [row] = await db<AccountRow>('accounts')
          .insert({
            id: randomUUID(),
            email: normalizeEmail(input.email),
            name: input.name ?? null,
            password_hash: input.passwordHash,
            is_admin: input.isAdmin ?? false,
          })
          .returning('*');
        return toAccount(row as AccountRow);
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw new DuplicateEmailError('an account with that email exists');
        throw err;
      }
    },
    async findById(id: string): Promise<Account | undefined> {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined; // not a uuid: Postgres would reject the cast
      const row = await db<AccountRow>('accounts').where({ id }).first();
      return row ? toAccount(row) : undefined;
    },
    async findByEmail(email: string): Promise<Account | undefined> {
      if (!searchableEmail(email)) return undefined;
      const row = await db<AccountRow>('accounts').where({ email: normalizeEmail(email) }).first();
      return row ? toAccount(row) : undefined;
    },
    /** Emails of the given account ids (issue #15: audit pages and exports name people, not only ids). */
    async emailsFor(ids: string[]): Promise<Map<string, string>> {
      const uuids = [...new Set(ids.filter((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)))];
      if (uuids.length === 0) return new Map();
      const rows = (await db<AccountRow>('accounts').whereIn('id', uuids).select('id', 'email')) as Array<{ id: string; email: string }>;
      return new Map(rows.map((r) => [r.id, r.email]));
    },
    /** For the password factor only. */
    async list(): Promise<Account[]> {
      const rows = await db<AccountRow>('accounts').orderBy('created_at', 'asc');
      return rows.map(toAccount);
    },
    /**
     * Admin search (issue #5): a case-insensitive substring of the email or name, or an exact id; newest
     * first, paged by offset. LIKE wildcards in the query are matched literally.
     */
    async search(filter: { q?: string; limit: number; offset: number }): Promise<{ items: Account[]; total: number }> {
      const q = (filter.q ?? '').replace(/\u0000/g, '').trim().slice(0, 254);
      const base = db<AccountRow>('accounts');
      if (q) {
        const like = `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        base.where((w) => {
          w.whereRaw('lower(email) like ?', [like]).orWhereRaw('lower(coalesce(name, \'\')) like ?', [like]);
          if (/^[0-9a-f-]{36}$/i.test(q)) w.orWhere({ id: q.toLowerCase() });
        });
      }
      const [rows, [countRow]] = await Promise.all([
        base.clone().orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'asc' }]).limit(filter.limit).offset(filter.offset),
        base.clone().count<{ count: string }[]>({ count: '*' }),
      ]);
      return { items: (rows as AccountRow[]).map(toAccount), total: Number(countRow?.count ?? 0) };
    },
    /** A disabled account cannot sign in (oidc/accounts.ts, interactions) and has no sessions (the caller revokes them). */
    async setDisabled(id: string, disabled: boolean, also?: AlsoInTransaction<Account | undefined>): Promise<Account | undefined> {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
      return changeWith(
        db,
        also,
        async (q) => {
          const [row] = await q<AccountRow>('accounts')
            .where({ id })
            .update({ disabled_at: disabled ? (db.fn.now() as unknown as Date) : null, updated_at: db.fn.now() as unknown as Date } as never)
            .returning('*');
          return row ? toAccount(row as AccountRow) : undefined;
        },
        (account) => account !== undefined,
      );
    },
    /**
     * A new password hash (issue #15). `changeRequired` marks it temporary (an admin set it): the next
     * sign-in asks for a new one. Factors are untouched: a password change never removes a second factor.
     */
    async setPassword(id: string, passwordHash: string, opts: { changeRequired?: boolean } = {}, also?: AlsoInTransaction<Account | undefined>): Promise<Account | undefined> {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
      return changeWith(
        db,
        also,
        async (q) => {
          const [row] = await q<AccountRow>('accounts')
            .where({ id })
            .update({ password_hash: passwordHash, password_change_required: opts.changeRequired ?? false, updated_at: db.fn.now() } as never)
            .returning('*');
          return row ? toAccount(row as AccountRow) : undefined;
        },
        (account) => account !== undefined,
      );
    },
    async setPasswordChangeRequired(id: string, required: boolean): Promise<Account | undefined> {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
      const [row] = await db<AccountRow>('accounts').where({ id }).update({ password_change_required: required, updated_at: db.fn.now() } as never).returning('*');
      return row ? toAccount(row as AccountRow) : undefined;
    },
    /** CLI `user update`: a new email and/or the admin role. */
    async update(id: string, change: { email?: string; isAdmin?: boolean }): Promise<Account | undefined> {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
      const columns: Record<string, unknown> = { updated_at: db.fn.now() };
      if (change.email !== undefined) columns.email = normalizeEmail(change.email);
      if (change.isAdmin !== undefined) columns.is_admin = change.isAdmin;
      try {
        const [row] = await db<AccountRow>('accounts').where({ id }).update(columns as never).returning('*');
        return row ? toAccount(row as AccountRow) : undefined;
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw new DuplicateEmailError('an account with that email exists');
        throw err;
      }
    },
    async count(): Promise<number> {
      const [row] = await db('accounts').count<{ count: string }[]>({ count: '*' });
      return Number(row?.count ?? 0);
    },
  };
}

export type AccountsRepo = ReturnType<typeof createAccountsRepo>;
