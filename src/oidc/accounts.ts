import type { FindAccount } from 'oidc-provider';
import type { AccountReads } from '../store/account-reads.js';

/** oidc-provider's findAccount: disabled accounts do not exist for the protocol. */
export function createFindAccount(findAccount: AccountReads['account']): FindAccount {
  return async (ctx, sub) => {
    // at the authorization endpoint and its resume the step-up check reads the account's factors next
    // (policy.ts): one query for both
    const withFactors = ctx.oidc?.route === 'authorization' || ctx.oidc?.route === 'resume';
    const account = await findAccount(ctx, sub, { withFactors });
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
