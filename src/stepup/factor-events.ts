/**
 * Factor verifications as the session records them (SPEC §1), and their RFC 8176 amr values (SPEC §2 rule 9).
 */
import type { FactorKind } from './factor-kinds.js';

export type { FactorKind };

/** One verification recorded on the session: `{factor, credential id, amr values, at}` (SPEC §1). */
export interface FactorEvent {
  factor: FactorKind;
  credentialId?: string;
  /** epoch seconds */
  at: number;
  /** WebAuthn UV flag */
  userVerified?: boolean;
  /** WebAuthn BE flag: false = device-bound */
  backupEligible?: boolean;
  /** WebAuthn credential whose attestation was verified */
  attested?: boolean;
  /** RFC 8176 values for this event, computed by amrForEvent() */
  amr: string[];
}

/** A user-verified WebAuthn assertion (a passkey) is multi-factor by itself (SPEC §1: it counts as steps 1 and 2). */
export const isUserVerifiedWebAuthn = (e: Pick<FactorEvent, 'factor' | 'userVerified'>): boolean => e.factor === 'webauthn' && e.userVerified === true;

/** WebAuthn backup-eligible flag false: the private key cannot leave the authenticator (SPEC §1 `phrh`, §3). */
export const isDeviceBound = (e: { factor: FactorKind; backupEligible?: boolean }): boolean => e.factor === 'webauthn' && e.backupEligible === false;

/**
 * SPEC §2 rule 9: password `pwd`; TOTP and recovery code `otp`; WebAuthn `hwk` (device-bound) or
 * `swk` (synced, or BE flag unknown: a key is only called hardware-bound when it says so), plus `user`
 * (user present); a user-verified assertion is multi-factor by itself, so it also brings `mfa`.
 */
export function amrForEvent(e: Omit<FactorEvent, 'amr'>): string[] {
  switch (e.factor) {
    case 'password':
      return ['pwd'];
    case 'totp':
    case 'recovery_code':
      return ['otp'];
    case 'webauthn':
      return [isDeviceBound(e) ? 'hwk' : 'swk', 'user', ...(isUserVerifiedWebAuthn(e) ? ['mfa'] : [])];
  }
}
