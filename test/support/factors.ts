import type { App } from '../../src/app.js';
import { newTotpSecret, totpCodeAt } from '../../src/factors/totp/totp.js';

/** Enrolls an active TOTP factor for a user, as if confirmed long ago (its last used step is in the past). */
export async function enrollTotp(app: App, accountId: string, label = 'Phone') {
  const secret = newTotpSecret();
  const factor = await app.stores.factors.createPendingTotp(accountId, label, secret);
  await app.stores.factors.claimTotpStep(factor.id, accountId, 1);
  return { factorId: factor.id, secret, code: (epoch = Math.floor(Date.now() / 1000)) => totpCodeAt(secret, epoch) };
}
