import type { FindAccount } from 'oidc-provider';
import type { AccountReads } from '../store/account-reads.js';

/**
 * The token paths whose account reads may come from the cross-request cache (issue #20): a refresh
 * and userinfo, where the account gives the claims and must not be disabled. Never the sign-in path
 * (authorization, resume, the code's redemption at the end of a sign-in), whose checks read the database.
 */
export function isTokenPath(ctx: { oidc?: { route?: string; params?: { grant_type?: unknown } } }): boolean {
  const route = ctx.oidc?.route;
  return route === 'userinfo' || (route === 'token' && ctx.oidc?.params?.grant_type === 'refresh_token');
}

/** oidc-provider's findAccount: disabled accounts do not exist for the protocol. */
export function createFindAccount(reads: Pick<AccountReads, 'account' | 'accountForTokens'>): FindAccount {
  return async (ctx, sub) => {
    // at the authorization endpoint and its resume the step-up check reads the account's factors next
    // (policy.ts): one query for both
    const withFactors = ctx.oidc?.route === 'authorization' || ctx.oidc?.route === 'resume';
    const account = isTokenPath(ctx) ? await reads.accountForTokens(ctx, sub) : await reads.account(ctx, sub, { withFactors });
    if (!account || account.disabledAt) return undefined;
    return {
      accountId: account.id,
      async claims() {
        return {
          sub: account.id,
          email: account.email,
          ...(account.name ? { name: account.name } : {}),
        };
      },
    };
  };
}
