import { describe, expect, it } from '@jest/globals';
import { amrForEvent, type FactorEvent, type FactorKind } from './factor-events.js';
import { heldLevels, tokenClaimsFor } from './held-levels.js';
import { DEFAULT_POLICY, parsePolicy, type Policy } from './levels.js';

// A fixed clock: events are placed "seconds ago" relative to NOW.
const NOW = 2_000_000_000;
const MINUTE = 60;
const HOUR = 3600;
const DAY = 24 * HOUR;
const policy = DEFAULT_POLICY;

function ev(factor: FactorKind, ago: number, extra: Partial<FactorEvent> = {}): FactorEvent {
  const e = { factor, at: NOW - ago, ...extra };
  return { ...e, amr: amrForEvent(e) };
}
const pwd = (ago = MINUTE) => ev('password', ago);
const totp = (ago = 30) => ev('totp', ago, { credentialId: 'totp-1' });
const recovery = (ago = 30) => ev('recovery_code', ago);
/** a passkey: user-verified; synced unless `bound` */
const passkey = (ago = 10, bound = false) => ev('webauthn', ago, { credentialId: 'passkey', userVerified: true, backupEligible: !bound });
/** a security key tapped without user verification: device-bound, user present only */
const securityKey = (ago = 10, extra: Partial<FactorEvent> = {}) => ev('webauthn', ago, { credentialId: 'key', userVerified: false, backupEligible: false, ...extra });
/** a synced credential without user verification */
const syncedKey = (ago = 10) => ev('webauthn', ago, { credentialId: 'synced', userVerified: false, backupEligible: true });

describe('SPEC §1: a level is held when every level up to it is held and its step is fresh', () => {
  it.each<[string, FactorEvent[], string[]]>([
    ['no events', [], []],
    ['a password', [pwd()], ['aal1']],
    ['password + TOTP', [pwd(), totp()], ['aal1', 'aal2']],
    ['TOTP verified before the password: order does not matter', [totp(120), pwd(60)], ['aal1', 'aal2']],
    ['password + recovery code: aal2, and only aal2', [pwd(), recovery()], ['aal1', 'aal2']],
    ['a TOTP alone is no primary factor', [totp()], []],
    ['a recovery code alone is no primary factor', [recovery()], []],
    ['a password twice is one kind of factor', [pwd(120), pwd(60)], ['aal1']],
    ['a synced passkey (UV) alone: steps 1, 2 and 3 at once', [passkey(10)], ['aal1', 'aal2', 'phr']],
    ['a device-bound passkey (UV) alone: up to phrh', [passkey(10, true)], ['aal1', 'aal2', 'phr', 'phrh']],
    ['password + device-bound security key without UV: up to phrh', [pwd(), securityKey()], ['aal1', 'aal2', 'phr', 'phrh']],
    ['password + synced credential without UV: up to phr', [pwd(), syncedKey()], ['aal1', 'aal2', 'phr']],
    ['a security key without UV alone is no primary factor, so nothing above either', [securityKey()], []],
    ['password + TOTP + a fresh passkey tap: lifted to phr', [pwd(), totp(), passkey(5)], ['aal1', 'aal2', 'phr']],
  ])('%s → %j', (_label, events, expected) => {
    expect(heldLevels(policy, events, NOW)).toEqual(expected);
  });
});

describe('SPEC §1: per-level windows (a session steps down by itself)', () => {
  it.each<[string, FactorEvent[], string[]]>([
    ['a password exactly 30 days old still holds aal1', [pwd(30 * DAY)], ['aal1']],
    ['a password 30 days and 1 s old holds nothing', [pwd(30 * DAY + 1)], []],
    ['a TOTP exactly 12 h old still holds aal2', [pwd(), totp(12 * HOUR)], ['aal1', 'aal2']],
    ['a TOTP 12 h and 1 s old: down to aal1', [pwd(), totp(12 * HOUR + 1)], ['aal1']],
    ['a passkey 13 h old: still the primary factor (30 days), no longer aal2 (12 h)', [passkey(13 * HOUR)], ['aal1']],
    ['a stale aal2, then a fresh credential without UV: the credential is the second factor again', [pwd(), totp(13 * HOUR), syncedKey(5)], ['aal1', 'aal2', 'phr']],
    ['fresh TOTP but a password 31 days old: nothing, the chain starts at aal1', [pwd(31 * DAY), totp()], []],
    ['password + TOTP + a security key 13 h old: phr and phrh have passed', [pwd(), totp(), securityKey(13 * HOUR)], ['aal1', 'aal2']],
    ['an event stamped after now is not counted', [pwd(-10)], []],
  ])('%s → %j', (_label, events, expected) => {
    expect(heldLevels(policy, events, NOW)).toEqual(expected);
  });

  it('one session seen at different times: aal2 for 12 h, aal1 for 30 days, then nothing', () => {
    const start = NOW - 40 * DAY;
    const events = [ev('password', NOW - start), ev('totp', NOW - start - 10)];
    expect(heldLevels(policy, events, start + 20)).toEqual(['aal1', 'aal2']);
    expect(heldLevels(policy, events, start + 10 + 12 * HOUR)).toEqual(['aal1', 'aal2']);
    expect(heldLevels(policy, events, start + 11 + 12 * HOUR)).toEqual(['aal1']);
    expect(heldLevels(policy, events, start + 30 * DAY)).toEqual(['aal1']);
    expect(heldLevels(policy, events, start + 30 * DAY + 1)).toEqual([]);
  });

  it('a policy file with its own windows is honoured', () => {
    const custom = parsePolicy({
      levels: [
        { acr: 'basic', step: 'primary', maxAge: HOUR },
        { acr: 'strong', step: 'second_factor', maxAge: 5 * MINUTE },
      ],
    });
    expect(heldLevels(custom, [pwd(10 * MINUTE), totp(4 * MINUTE)], NOW)).toEqual(['basic', 'strong']);
    expect(heldLevels(custom, [pwd(10 * MINUTE), totp(6 * MINUTE)], NOW)).toEqual(['basic']);
    expect(heldLevels(custom, [pwd(61 * MINUTE), totp(1 * MINUTE)], NOW)).toEqual([]);
  });
});

describe('SPEC §1 rank 2: "a second factor of another kind"', () => {
  it.each<[string, FactorEvent[], string[]]>([
    ['a passkey 13 h old + a security key tap without UV: both WebAuthn, so no second factor', [passkey(13 * HOUR), securityKey(5)], ['aal1']],
    ['a passkey 13 h old + a TOTP: another kind', [passkey(13 * HOUR), totp(5)], ['aal1', 'aal2']],
    ['a passkey 13 h old + a fresh passkey tap (UV): multi-factor by itself', [passkey(13 * HOUR), passkey(5)], ['aal1', 'aal2', 'phr']],
    ['a password a day old makes the security key another kind again', [passkey(13 * HOUR), pwd(DAY), securityKey(5)], ['aal1', 'aal2', 'phr', 'phrh']],
  ])('%s → %j', (_label, events, expected) => {
    expect(heldLevels(policy, events, NOW)).toEqual(expected);
  });
});

describe('SPEC §3 WebAuthn: the policy may require a verified attestation for phrh', () => {
  const strict: Policy = { ...policy, levels: policy.levels.map((l) => (l.step === 'device_bound' ? { ...l, requireAttestation: true } : l)) };
  it.each<[string, FactorEvent[], string[]]>([
    ['a device-bound passkey without attestation stops at phr', [passkey(10, true)], ['aal1', 'aal2', 'phr']],
    ['an attested device-bound security key reaches phrh', [pwd(), securityKey(10, { attested: true })], ['aal1', 'aal2', 'phr', 'phrh']],
    ['an attested but synced credential does not', [pwd(), ev('webauthn', 10, { backupEligible: true, attested: true })], ['aal1', 'aal2', 'phr']],
  ])('%s → %j', (_label, events, expected) => {
    expect(heldLevels(strict, events, NOW)).toEqual(expected);
  });
});

describe('SPEC §2 rule 8: amr and auth_time to issue', () => {
  it.each<[string, FactorEvent[], string | undefined, { acr?: string; amr: string[]; authTime: number }]>([
    ['password', [pwd(60)], 'aal1', { acr: 'aal1', amr: ['pwd'], authTime: NOW - 60 }],
    ['password + TOTP: two kinds bring mfa', [pwd(60), totp(30)], 'aal2', { acr: 'aal2', amr: ['pwd', 'otp', 'mfa'], authTime: NOW - 30 }],
    ['password + recovery code', [pwd(60), recovery(30)], 'aal2', { acr: 'aal2', amr: ['pwd', 'otp', 'mfa'], authTime: NOW - 30 }],
    ['synced passkey', [passkey(10)], 'phr', { acr: 'phr', amr: ['swk', 'user', 'mfa'], authTime: NOW - 10 }],
    ['device-bound passkey', [passkey(10, true)], 'phrh', { acr: 'phrh', amr: ['hwk', 'user', 'mfa'], authTime: NOW - 10 }],
    ['a passkey is multi-factor even for aal1', [passkey(10)], 'aal1', { acr: 'aal1', amr: ['swk', 'user', 'mfa'], authTime: NOW - 10 }],
    ['password + security key', [pwd(60), securityKey(10)], 'phrh', { acr: 'phrh', amr: ['pwd', 'hwk', 'user', 'mfa'], authTime: NOW - 10 }],
    ['only the events supporting the acr: aal1 of password + TOTP', [pwd(60), totp(30)], 'aal1', { acr: 'aal1', amr: ['pwd'], authTime: NOW - 30 }],
    ['the newest verification of a step supports it', [pwd(600), pwd(60), totp(30)], 'aal2', { acr: 'aal2', amr: ['pwd', 'otp', 'mfa'], authTime: NOW - 30 }],
    ['no acr given: the highest level held (rule 5)', [pwd(60), totp(30)], undefined, { acr: 'aal2', amr: ['pwd', 'otp', 'mfa'], authTime: NOW - 30 }],
    ['an acr not held is never asserted', [pwd(60)], 'phr', { amr: ['pwd'], authTime: NOW - 60 }],
    ['an unknown acr is never asserted', [pwd(60)], 'gold', { amr: ['pwd'], authTime: NOW - 60 }],
    ['auth_time counts every verification, even one not supporting the acr', [pwd(60), ev('totp', 5)], 'aal1', { acr: 'aal1', amr: ['pwd'], authTime: NOW - 5 }],
    ['no verification at all', [], undefined, { amr: [], authTime: 0 }],
  ])('%s', (_label, events, acr, expected) => {
    expect(tokenClaimsFor(policy, acr, events, NOW)).toEqual(expected);
  });
});
