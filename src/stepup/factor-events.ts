/**
 * Factor verifications as the session records them (SPEC §1), and their RFC 8176 amr values (SPEC §2.9).
 */
export type FactorKind = 'password' | 'totp' | 'webauthn' | 'recovery_code';

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
  amr: string[];
}

/** SPEC §2.9: pwd; otp for TOTP and recovery codes; WebAuthn hwk (device-bound) or swk (synced) plus user, and mfa when user-verified. */
export function amrForEvent(e: Omit<FactorEvent, 'amr'>): string[] {
  switch (e.factor) {
    case 'password':
      return ['pwd'];
    case 'totp':
    case 'recovery_code':
      return ['otp'];
    case 'webauthn':
      return [e.backupEligible === false ? 'hwk' : 'swk', 'user', ...(e.userVerified ? ['mfa'] : [])];
  }
}

/** A user-verified WebAuthn assertion is multi-factor by itself (SPEC §1: counts as steps 1 and 2). */
export const isUserVerifiedWebAuthn = (e: Pick<FactorEvent, 'factor' | 'userVerified'>) => e.factor === 'webauthn' && e.userVerified === true;
