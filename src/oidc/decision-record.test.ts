import { describe, expect, it } from '@jest/globals';
import { DEFAULT_POLICY, explain, parseSessionSpec } from '../stepup/index.js';
import { compactRequest, decisionRecord, factorsUsed, newSignInId, SIGN_IN_ID } from './decision-record.js';

const NOW = 1_800_000_000;

describe('issue #19: the stepup.decision record is bounded and holds no secret', () => {
  it('keeps only the claims parameter\'s id_token.acr request, with capped values', () => {
    const claims = {
      id_token: { acr: { essential: true, values: [...Array.from({ length: 50 }, (_, i) => `v${i}`), 'x'.repeat(5000)], extra: 'dropped' }, email: { essential: true } },
      userinfo: { name: null, junk: 'y'.repeat(100_000) },
    };
    expect(compactRequest({ acrValues: 'aal2', claims, maxAge: 60, prompt: 'login' })).toEqual({
      acrValues: 'aal2',
      claims: { id_token: { acr: { essential: true, values: Array.from({ length: 10 }, (_, i) => `v${i}`) } } },
      maxAge: 60,
      prompt: 'login',
    });
    expect(compactRequest({ claims: JSON.stringify({ id_token: { acr: { value: 'phr' } } }) })).toEqual({ claims: { id_token: { acr: { value: 'phr' } } } });
    expect(compactRequest({ claims: '{not json' })).toEqual({});
    // an inherited id_token is not read
    expect(compactRequest({ claims: Object.create({ id_token: { acr: { value: 'phr' } } }) })).toEqual({});
  });

  it('stores the trace of the decision with the legacy fields, and names the factors used', () => {
    const sessionEvents = parseSessionSpec('password@-10m', NOW);
    const enrolled = [
      { factor: 'password' as const, credentialId: 'password' },
      { factor: 'totp' as const, credentialId: 't1', label: 'Phone' },
      { factor: 'webauthn' as const, credentialId: 'w1', label: 'YubiKey', aaguid: 'cb69481e-8ff7-4039-93ec-0a2729a154a8', backupEligible: false },
    ];
    const trace = explain({ policy: DEFAULT_POLICY, request: { acrValues: 'aal2', claims: { userinfo: { huge: 'z'.repeat(10_000) } } }, client: { minimumAcr: 'aal1' }, sessionEvents, enrolled, now: NOW });
    const used = factorsUsed([{ factor: 'webauthn', credentialId: 'w1', at: NOW, amr: ['hwk', 'user'], backupEligible: false }], enrolled);
    const record = decisionRecord({ signIn: 'abcdefgh12', resumed: true, trace, factorsUsed: used });
    expect(record).toMatchObject({ v: 1, signIn: 'abcdefgh12', resumed: true, requested: ['aal2'], held: ['aal1'], target: 'aal2', inputs: { acrValues: 'aal2' } });
    expect(record.trace.inputs.request).toEqual({ acrValues: 'aal2' });
    expect(record.trace.inputs.enrolled).toEqual([
      { factor: 'password', credentialId: 'password' },
      { factor: 'totp', credentialId: 't1' },
      { factor: 'webauthn', credentialId: 'w1' },
    ]);
    expect(record.factorsUsed).toEqual([expect.objectContaining({ factor: 'webauthn', label: 'YubiKey', aaguid: 'cb69481e-8ff7-4039-93ec-0a2729a154a8', model: expect.stringMatching(/YubiKey/) })]);
    expect(JSON.stringify(record).length).toBeLessThan(4000);
  });

  it('sign-in ids are random and fit a URL path segment', () => {
    const a = newSignInId();
    expect(a).toMatch(SIGN_IN_ID);
    expect(newSignInId()).not.toBe(a);
  });
});
