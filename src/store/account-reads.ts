import type { EnrolledFactor } from '../stepup/index.js';
import { normalizeEmail, searchableEmail, toAccount, type Account, type AccountRow, type AccountsRepo } from './accounts.repo.js';
import type { AccountChanges } from './account-changes.js';
import type { Db } from './db.js';

/**
 * The account and what it can authenticate with, as the sign-in pages and the step-up check read them
 * (issue #6). One SQL round trip gives the account, its active factors and whether recovery codes
 * remain (it was three queries, run about four times per sign-in).
 *
 * Reads can be memoized for one request: pass a scope object (the Koa context) and every read of the
 * same account within that request is answered once. The memo hangs off the scope in a WeakMap, so it
 * is gone with the request; a request that changes factors calls forget(scope) before reading again.
 * Without a scope every call reads the database.
 */
export interface AccountReads {
  /** @param opts.withFactors read the factors along (one query) when the request will need them next */
  account(scope: object | undefined, accountId: string, opts?: { withFactors?: boolean }): Promise<Account | undefined>;
  enrolledFactors(scope: object | undefined, accountId: string): Promise<EnrolledFactor[]>;
  /**
   * The password sign-in's lookup by email, with the account's factors in the same query (issue #6:
   * the step-up decision right after it needs them): the factors are memoized for the request.
   */
  credentialsByEmail(scope: object | undefined, email: string): Promise<{ account: Account; passwordHash: string | null } | undefined>;
  /**
   * Issue #20: the account as the token paths read it (refresh, userinfo: oidc-provider's findAccount
   * for claims), from a cache shared by the requests of ACCOUNT_CACHE_SECONDS at most, dropped at
   * once when the account changes here or on another instance (account-changes.ts). Never used by the
   * sign-in path's checks (a disabled account, the factors being verified): those read `account`.
   */
  accountForTokens(scope: object | undefined, accountId: string): Promise<Account | undefined>;
  /** Drops everything memoized for the request: called after the request wrote factors or codes. */
  forget(scope: object): void;
}

/** Issue #20: how long a token path may use an account read by an earlier request (as clients, client-adapter.ts). */
export const ACCOUNT_CACHE_SECONDS = 5;
/** Oldest dropped first beyond this: random or many accounts cannot grow the cache. */
export const ACCOUNT_CACHE_MAX_ENTRIES = 10_000;

export interface AccountCacheOptions {
  changes: Pick<AccountChanges, 'live' | 'onChange'>;
  ttlSeconds?: number;
  maxEntries?: number;
  nowMs?: () => number;
}

interface Snapshot {
  account: Account;
  enrolled: EnrolledFactor[];
}

interface ActiveFactorJson {
  id: string;
  type: 'totp' | 'webauthn';
  backup_eligible: boolean | null;
  user_verifying: boolean | null;
  attested: boolean | null;
  label: string;
  aaguid: string | null;
}

const UUID = /^[0-9a-f-]{36}$/i;

/**
 * Only the factor columns the policy needs leave the database (and, for the decision trace of issue #19,
 * the label and AAGUID that name a factor): never a secret or a public key.
 */
const snapshotSql = (where: string) => `
select a.*,
  (select count(*) from recovery_codes r where r.account_id = a.id and r.used_at is null)::int as recovery_codes_remaining,
  coalesce(
    (select json_agg(json_build_object('id', f.id, 'type', f.type, 'backup_eligible', f.backup_eligible,
                                       'user_verifying', f.user_verifying, 'attested', f.attested,
                                       'label', f.label, 'aaguid', f.aaguid) order by f.created_at asc)
       from factors f where f.account_id = a.id and f.status = 'active'),
    '[]'::json) as active_factors
from accounts a where ${where}`;
const SNAPSHOT_BY_ID = snapshotSql('a.id = ?');
const SNAPSHOT_BY_EMAIL = snapshotSql('a.email = ?');

type SnapshotRow = AccountRow & { recovery_codes_remaining: number; active_factors: ActiveFactorJson[] };

function toSnapshot(row: SnapshotRow): Snapshot {
  const account = toAccount(row);
  // everything the account can authenticate with: its password (if set) and its confirmed factors
  const enrolled: EnrolledFactor[] = [
    ...(account.hasPassword ? [{ factor: 'password' as const, credentialId: 'password' }] : []),
    ...row.active_factors.map(
      (f): EnrolledFactor =>
        f.type === 'webauthn'
          ? { factor: 'webauthn', credentialId: f.id, backupEligible: f.backup_eligible === true, userVerifying: f.user_verifying === true, attested: f.attested === true, label: f.label, ...(f.aaguid ? { aaguid: f.aaguid } : {}) }
          : { factor: f.type, credentialId: f.id, label: f.label },
    ),
    ...(row.recovery_codes_remaining > 0 ? [{ factor: 'recovery_code' as const, credentialId: 'recovery_codes' }] : []),
  ];
  return { account, enrolled };
}

/**
 * Accounts found are kept for ttlSeconds; unknown ids are not (an account created a moment ago is
 * found at once). A change drops the entry, and a read that was in flight during the change does not
 * put the old row back. Concurrent misses share one query; at most maxEntries are kept.
 */
function createAccountCache(load: (accountId: string) => Promise<Account | undefined>, opts: AccountCacheOptions) {
  const ttlMs = (opts.ttlSeconds ?? ACCOUNT_CACHE_SECONDS) * 1000;
  const maxEntries = opts.maxEntries ?? ACCOUNT_CACHE_MAX_ENTRIES;
  const nowMs = opts.nowMs ?? Date.now;
  const cache = new Map<string, { account: Account; expiresAt: number }>();
  /** reads under way; `stale` once a change was announced while the read ran: its row is not kept */
  const inFlight = new Map<string, { read: Promise<Account | undefined>; stale: boolean }>();
  opts.changes.onChange((accountId) => {
    const changed = accountId === undefined ? [...inFlight.keys()] : [accountId];
    for (const id of changed) {
      const pending = inFlight.get(id);
      if (pending) pending.stale = true;
      inFlight.delete(id);
    }
    if (accountId === undefined) cache.clear();
    else cache.delete(accountId);
  });
  return async (accountId: string): Promise<Account | undefined> => {
    // not live: a change made elsewhere might not reach us, so every read goes to the database
    if (!opts.changes.live) return load(accountId);
    const hit = cache.get(accountId);
    if (hit && hit.expiresAt > nowMs()) return hit.account;
    const pending = inFlight.get(accountId);
    if (pending) return pending.read;
    const entry = { read: load(accountId), stale: false };
    inFlight.set(accountId, entry);
    try {
      const account = await entry.read;
      if (account && !entry.stale && opts.changes.live) {
        cache.delete(accountId);
        // shared by requests: frozen, so no request can change what another one reads
        cache.set(accountId, { account: Object.freeze(account), expiresAt: nowMs() + ttlMs });
        // Map keeps insertion order: the first key is the oldest entry
        if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
      }
      return account;
    } finally {
      if (inFlight.get(accountId) === entry) inFlight.delete(accountId);
    }
  };
}

export function createAccountReads(db: Db, accounts: AccountsRepo, cacheOptions?: AccountCacheOptions): AccountReads {
  const memos = new WeakMap<object, { accounts: Map<string, Promise<Account | undefined>>; snapshots: Map<string, Promise<Snapshot | undefined>> }>();

  const loadSnapshot = async (accountId: string): Promise<Snapshot | undefined> => {
    if (!UUID.test(accountId)) return undefined; // not a uuid: Postgres would reject the cast
    const { rows } = (await db.raw(SNAPSHOT_BY_ID, [accountId])) as { rows: SnapshotRow[] };
    return rows[0] ? toSnapshot(rows[0]) : undefined;
  };

  const memoFor = (scope: object) => {
    let memo = memos.get(scope);
    if (!memo) memos.set(scope, (memo = { accounts: new Map(), snapshots: new Map() }));
    return memo;
  };
  /** A failed read is not remembered: a retry in the same request reads again. */
  const remember = <T>(map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> => {
    let pending = map.get(key);
    if (!pending) {
      pending = load();
      map.set(key, pending);
      pending.catch(() => map.get(key) === pending && map.delete(key));
    }
    return pending;
  };

  const snapshot = (scope: object | undefined, accountId: string) =>
    scope ? remember(memoFor(scope).snapshots, accountId, () => loadSnapshot(accountId)) : loadSnapshot(accountId);

  const cached = cacheOptions ? createAccountCache((id) => accounts.findById(id), cacheOptions) : undefined;

  const reads: AccountReads = {
    async accountForTokens(scope, accountId) {
      if (!cached) return reads.account(scope, accountId);
      const memo = scope ? memos.get(scope) : undefined;
      // an account this request already read (and perhaps changed) stays the request's own
      if (memo?.snapshots.has(accountId) || memo?.accounts.has(accountId)) return reads.account(scope, accountId);
      return cached(accountId);
    },
    async account(scope, accountId, opts = {}) {
      if (!scope) return accounts.findById(accountId);
      const memo = memoFor(scope);
      const known = memo.snapshots.get(accountId) ?? (opts.withFactors && !memo.accounts.has(accountId) ? snapshot(scope, accountId) : undefined);
      if (known) return (await known)?.account;
      return remember(memo.accounts, accountId, () => accounts.findById(accountId));
    },
    async enrolledFactors(scope, accountId) {
      return (await snapshot(scope, accountId))?.enrolled ?? [];
    },
    async credentialsByEmail(scope, email) {
      if (!searchableEmail(email)) return undefined;
      const { rows } = (await db.raw(SNAPSHOT_BY_EMAIL, [normalizeEmail(email)])) as { rows: SnapshotRow[] };
      const row = rows[0];
      if (!row) return undefined;
      const found = toSnapshot(row);
      if (scope) memoFor(scope).snapshots.set(found.account.id, Promise.resolve(found));
      return { account: found.account, passwordHash: row.password_hash };
    },
    forget(scope) {
      memos.delete(scope);
    },
  };
  return reads;
}
