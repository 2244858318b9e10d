import type { FindAccount } from 'oidc-provider';
import type { AccountReads } from '../store/account-reads.js';

/** oidc-provider's findAccount: disabled accounts do not exist for the protocol. */
export function createFindAccount(findAccount: AccountReads['account']): FindAccount {
  return async (ctx, sub) => {
    const account = await findAccount(ctx, sub);
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
