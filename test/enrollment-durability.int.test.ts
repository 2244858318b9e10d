import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashRecoveryCode, newRecoveryCodes } from '../src/factors/recovery-codes/recovery-codes.js';
import { newTotpSecret } from '../src/factors/totp/totp.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createUser } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/**
 * Issue #7 durability: confirming a TOTP enrollment and storing the first recovery codes is one
 * transaction, so a failure half-way (a crash, a lost connection) leaves the old state.
 */
const iso = newIsolation();
let server: RunningServer;
beforeAll(async () => {
  server = await startServer(iso);
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

const STEP = 1_000;

async function pendingEnrollment() {
  const user = await createUser(server.app);
  const factor = await server.app.stores.factors.createPendingTotp(user.id, 'Phone', newTotpSecret());
  return { user, factor };
}

describe('TOTP enrollment with its recovery codes', () => {
  it('confirms the factor and stores the codes together', async () => {
    const { user, factor } = await pendingEnrollment();
    const codes = newRecoveryCodes();
    const result = await server.app.stores.factors.confirmTotpEnrollment(factor.id, user.id, STEP, codes.map(hashRecoveryCode));
    expect(result).toEqual({ recoveryCodesIssued: true });
    expect((await server.app.stores.factors.listForAccount(user.id)).map((f) => f.id)).toEqual([factor.id]);
    expect(await server.app.stores.recoveryCodes.remaining(user.id)).toBe(10);
  });

  it('a failure while storing the codes leaves the enrollment pending and no codes (the old state)', async () => {
    const { user, factor } = await pendingEnrollment();
    // the same hash twice breaks the (account, hash) unique constraint half-way through the transaction
    const hash = hashRecoveryCode(newRecoveryCodes()[0]!);
    await expect(server.app.stores.factors.confirmTotpEnrollment(factor.id, user.id, STEP, [hash, hash])).rejects.toThrow();
    expect(await server.app.stores.factors.listForAccount(user.id)).toEqual([]);
    const stored = await server.app.stores.factors.totpSecret(factor.id, user.id);
    expect(stored).toMatchObject({ status: 'pending', lastUsedStep: null });
    expect(await server.app.stores.recoveryCodes.remaining(user.id)).toBe(0);
    // and the same code can still confirm it afterwards
    expect(await server.app.stores.factors.confirmTotpEnrollment(factor.id, user.id, STEP, newRecoveryCodes().map(hashRecoveryCode))).toEqual({ recoveryCodesIssued: true });
  });

  it('a replayed step does not confirm; existing unused codes are kept, not replaced', async () => {
    const { user, factor } = await pendingEnrollment();
    const first = newRecoveryCodes().map(hashRecoveryCode);
    await server.app.stores.recoveryCodes.replace(user.id, first);
    expect(await server.app.stores.factors.confirmTotpEnrollment(factor.id, user.id, STEP, newRecoveryCodes().map(hashRecoveryCode))).toEqual({ recoveryCodesIssued: false });
    expect(await server.app.stores.factors.confirmTotpEnrollment(factor.id, user.id, STEP, [])).toBeUndefined();
    expect(await server.app.stores.recoveryCodes.consume(user.id, first[0]!)).toBe(true);
  });
});
