/**
 * The one list of factor kinds. Everything that enumerates factors (the registry in src/factors/, the
 * order of offers, the amr table) is typed against it, so a new kind is a compile error wherever it is
 * not yet handled, never a factor silently left out.
 */
export const FACTOR_KINDS = ['password', 'totp', 'webauthn', 'recovery_code'] as const;
export type FactorKind = (typeof FACTOR_KINDS)[number];

/** SPEC §1 rank 2: "a second factor of another kind: TOTP, a WebAuthn credential, or a recovery code". */
export const SECOND_FACTOR_KINDS = ['totp', 'webauthn', 'recovery_code'] as const satisfies readonly FactorKind[];

/**
 * What a person may enroll during a step-up or on /account (SPEC §4), as they choose it: WebAuthn is
 * offered as two choices because a passkey and a security key differ for the person and for `phrh`.
 * Recovery codes are not enrolled on their own: they come with the first second factor (SPEC §3).
 */
export const ENROLLMENT_CHOICES = ['passkey', 'security_key', 'totp'] as const;
export type EnrollmentChoice = (typeof ENROLLMENT_CHOICES)[number];

/** The factor kind an enrollment choice creates. */
export const KIND_OF_CHOICE = { passkey: 'webauthn', security_key: 'webauthn', totp: 'totp' } as const satisfies Record<EnrollmentChoice, FactorKind>;
