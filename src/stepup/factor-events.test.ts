import { describe, expect, it } from '@jest/globals';
import { amrForEvent, type FactorEvent } from './factor-events.js';

const AT = 2_000_000_000;

describe('SPEC §2 rule 9: amr per factor (RFC 8176)', () => {
  it.each<[string, Omit<FactorEvent, 'amr' | 'at'>, string[]]>([
    ['password', { factor: 'password' }, ['pwd']],
    ['TOTP', { factor: 'totp', credentialId: 't1' }, ['otp']],
    ['recovery code', { factor: 'recovery_code' }, ['otp']],
    ['device-bound passkey with UV', { factor: 'webauthn', backupEligible: false, userVerified: true }, ['hwk', 'user', 'mfa']],
    ['synced passkey with UV', { factor: 'webauthn', backupEligible: true, userVerified: true }, ['swk', 'user', 'mfa']],
    ['device-bound security key, user present only', { factor: 'webauthn', backupEligible: false, userVerified: false }, ['hwk', 'user']],
    ['synced credential, user present only', { factor: 'webauthn', backupEligible: true }, ['swk', 'user']],
    ['WebAuthn with no BE flag known: not called hardware-bound', { factor: 'webauthn', userVerified: true }, ['swk', 'user', 'mfa']],
  ])('%s → %j', (_label, event, amr) => {
    expect(amrForEvent({ ...event, at: AT })).toEqual(amr);
  });
});
