import { describe, expect, it } from '@jest/globals';
import { amrForEvent, DEFAULT_POLICY, highestReachableLevel, levelRequiredForChange, maxAgeForFreshStepUp, verifiedFreshlyAt, type EnrolledFactor, type FactorEvent } from './index.js';

const NOW = 1_800_000_000;
const password: EnrolledFactor = { factor: 'password', credentialId: 'password' };
const totp: EnrolledFactor = { factor: 'totp', credentialId: 't1' };
const syncedPasskey: EnrolledFactor = { factor: 'webauthn', credentialId: 'w1', backupEligible: true, userVerifying: true };
const deviceKey: EnrolledFactor = { factor: 'webauthn', credentialId: 'w2', backupEligible: false, userVerifying: false };
const event = (e: Omit<FactorEvent, 'amr'>): FactorEvent => ({ ...e, amr: amrForEvent(e) });
const level = (acr: string) => DEFAULT_POLICY.levels.find((l) => l.acr === acr)!;

describe('SPEC §4: the level a change needs', () => {
  it.each([
    ['password only', [password], 'aal1'],
    ['password + TOTP', [password, totp], 'aal2'],
    ['password + synced passkey', [password, syncedPasskey], 'phr'],
    ['password + device-bound security key', [password, deviceKey], 'phrh'],
    ['nothing', [], undefined],
  ])('%s: highest reachable level is %s', (_name, enrolled, expected) => {
    expect(highestReachableLevel(DEFAULT_POLICY, enrolled as EnrolledFactor[], NOW)?.acr).toBe(expected);
  });

  it('adding a WebAuthn factor: the lower of the highest reachable level and the new factor (phr)', () => {
    expect(levelRequiredForChange(DEFAULT_POLICY, [password], NOW, 'phr')?.acr).toBe('aal1');
    expect(levelRequiredForChange(DEFAULT_POLICY, [password, totp], NOW, 'phr')?.acr).toBe('aal2');
    expect(levelRequiredForChange(DEFAULT_POLICY, [password, deviceKey], NOW, 'phr')?.acr).toBe('phr');
  });

  it('renaming or removing: the highest reachable level', () => {
    expect(levelRequiredForChange(DEFAULT_POLICY, [password, deviceKey], NOW)?.acr).toBe('phrh');
  });
});

describe('SPEC §4: a fresh verification is every step of the level within 5 minutes', () => {
  it('a password 1 minute ago is fresh at aal1 but not at aal2', () => {
    const events = [event({ factor: 'password', at: NOW - 60 })];
    expect(verifiedFreshlyAt(DEFAULT_POLICY, level('aal1'), events, NOW)).toBe(true);
    expect(verifiedFreshlyAt(DEFAULT_POLICY, level('aal2'), events, NOW)).toBe(false);
  });

  it('a TOTP 10 minutes ago is not fresh, even after a new password', () => {
    const events = [event({ factor: 'password', at: NOW - 700 }), event({ factor: 'totp', at: NOW - 600 }), event({ factor: 'password', at: NOW - 30 })];
    expect(verifiedFreshlyAt(DEFAULT_POLICY, level('aal2'), events, NOW)).toBe(false);
  });

  it('one user-verified passkey tap is fresh up to phrh when device-bound', () => {
    const events = [event({ factor: 'webauthn', at: NOW - 10, userVerified: true, backupEligible: false })];
    expect(verifiedFreshlyAt(DEFAULT_POLICY, level('phrh'), events, NOW)).toBe(true);
    expect(verifiedFreshlyAt(DEFAULT_POLICY, level('phrh'), events, NOW + 301)).toBe(false);
  });
});

describe('maxAgeForFreshStepUp (SPEC §4 via SPEC §2 rule 6)', () => {
  const now = 1_000_000;
  it('asks only for missing steps when every verification is recent, with a minute of margin', () => {
    expect(maxAgeForFreshStepUp([{ at: now - 10 }, { at: now - 239 }], now)).toBe(300);
    expect(maxAgeForFreshStepUp([{ at: now - 10 }, { at: now - 241 }], now)).toBe(0);
  });
  it('re-verifies everything when the session verified nothing', () => {
    expect(maxAgeForFreshStepUp([], now)).toBe(0);
  });
});
