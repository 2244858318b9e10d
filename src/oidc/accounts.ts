import type { FindAccount } from 'oidc-provider';
import type { AccountsRepo } from '../store/accounts.repo.js';

/** oidc-provider's findAccount: disabled accounts do not exist for the protocol. */
export function createFindAccount(accounts: AccountsRepo): FindAccount {
  return async (_ctx, sub) => {
    const account = await accounts.findById(sub);
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
