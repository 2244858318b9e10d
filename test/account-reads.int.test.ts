import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createAccountReads } from '../src/store/account-reads.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { enrollTotp } from './support/factors.js';
import { createUser } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/** Issue #6: the account and its factors in one query, memoized for one request only. */
const iso = newIsolation();
let server: RunningServer;
let queries = 0;

beforeAll(async () => {
  server = await startServer(iso);
  server.app.stores.db.on('query', () => (queries += 1));
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

const reads = () => createAccountReads(server.app.stores.db, server.app.stores.accounts);

describe('account reads', () => {
  it('lists the password, the active factors only and the recovery codes while any remain', async () => {
    const { stores } = server.app;
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    await stores.factors.createPendingTotp(user.id, 'Not confirmed', 'JBSWY3DPEHPK3PXP');
    expect(await reads().enrolledFactors(undefined, user.id)).toEqual([
      { factor: 'password', credentialId: 'password' },
      // issue #19: the label names the factor in the decision trace (display only)
      { factor: 'totp', credentialId: totp.factorId, label: 'Phone' },
    ]);
    await stores.recoveryCodes.replace(user.id, ['a'.repeat(43)]);
    expect((await reads().enrolledFactors(undefined, user.id)).map((f) => f.factor)).toEqual(['password', 'totp', 'recovery_code']);
    expect(await stores.recoveryCodes.consume(user.id, 'a'.repeat(43))).toBe(true);
    expect((await reads().enrolledFactors(undefined, user.id)).map((f) => f.factor)).toEqual(['password', 'totp']);
  });

  it('knows no account for an unknown or malformed id', async () => {
    expect(await reads().enrolledFactors(undefined, '00000000-0000-4000-8000-000000000000')).toEqual([]);
    expect(await reads().enrolledFactors(undefined, 'not-a-uuid')).toEqual([]);
    expect(await reads().account({}, 'not-a-uuid')).toBeUndefined();
  });

  it('finds sign-in credentials by email (any case) with the factors in the same query, memoized for the request', async () => {
    const user = await createUser(server.app);
    const totp = await enrollTotp(server.app, user.id);
    const r = reads();
    const request = {};
    const before = queries;
    const found = await r.credentialsByEmail(request, `  ${user.email.toUpperCase()} `);
    expect(found?.account.id).toBe(user.id);
    expect(found?.passwordHash).toMatch(/^\$argon2id\$/);
    expect((await r.enrolledFactors(request, user.id)).map((f) => f.credentialId)).toEqual(['password', totp.factorId]);
    expect(queries - before).toBe(1);
    expect(await r.credentialsByEmail(request, 'nobody@example.com')).toBeUndefined();
    expect(await r.credentialsByEmail(request, 'nul\u0000@example.com')).toBeUndefined();
    expect(await r.credentialsByEmail(request, `${'x'.repeat(300)}@example.com`)).toBeUndefined();
  });

  it('reads once per scope, again after forget, and every time without a scope', async () => {
    const user = await createUser(server.app);
    const r = reads();
    const request = {};
    const before = queries;
    await r.enrolledFactors(request, user.id);
    await r.enrolledFactors(request, user.id);
    expect((await r.account(request, user.id))?.email).toBe(user.email); // from the same query
    expect(queries - before).toBe(1);

    // a write in the request (here: a factor confirmed) is seen after forget
    const totp = await enrollTotp(server.app, user.id);
    expect((await r.enrolledFactors(request, user.id)).map((f) => f.factor)).toEqual(['password']);
    r.forget(request);
    expect((await r.enrolledFactors(request, user.id)).map((f) => f.credentialId)).toEqual(['password', totp.factorId]);

    // another request (another scope) never sees this one's memo
    const other = {};
    const start = queries;
    await r.account(other, user.id);
    await r.account(other, user.id);
    expect(queries - start).toBe(1);
    await r.enrolledFactors(undefined, user.id);
    await r.enrolledFactors(undefined, user.id);
    expect(queries - start).toBe(3);

    // the account read with its factors (findAccount where the step-up check follows): one query for both
    const resume = {};
    const from = queries;
    expect((await r.account(resume, user.id, { withFactors: true }))?.id).toBe(user.id);
    expect(await r.enrolledFactors(resume, user.id)).toHaveLength(2);
    expect(queries - from).toBe(1);
  });
});
