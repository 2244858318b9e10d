import { randomBytes } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { StoredWebAuthnCredential } from '../../store/factors.repo.js';

/**
 * WebAuthn ceremonies (SPEC §3) around @simplewebauthn/server. The library verifies signatures,
 * origins, the RP ID and the counter's direction; what it leaves to us is here or in the callers:
 * challenges are ours (random, single-use, stored server-side, 5 minutes), `verified: false` is a
 * failure like a throw, the counter is persisted with a compare-and-set, the credential must belong
 * to the account being stepped up and its `userHandle` must match, and a credential registered
 * device-bound (BE=0) that later claims BE=1 is rejected.
 */

/**
 * @simplewebauthn/server and its CBOR/ASN.1/COSE dependencies are about 20 MiB resident (issue #6, idle
 * RSS): loaded at the first registration or assertion check, not at start. Showing a sign-in page
 * needs only assertion options, built here.
 */
let library: Promise<typeof import('@simplewebauthn/server')> | undefined;
const simpleWebAuthn = () => (library ??= import('@simplewebauthn/server'));

/** WebAuthn L3 §13.4.3: at least 16 random bytes; 32 as @simplewebauthn/server makes them. */
const CHALLENGE_BYTES = 32;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/** SPEC §3: challenges expire in 5 minutes. */
export const CHALLENGE_TTL_SECONDS = 5 * 60;
/** The browser's own timeout for the ceremony, a little under the challenge's lifetime. */
const CEREMONY_TIMEOUT_MS = 4 * 60 * 1000;
/** ES256, EdDSA, RS256: what passkey providers and security keys use. */
const SUPPORTED_ALGORITHMS = [-7, -8, -257];

export interface RelyingParty {
  /** the issuer's host name (SPEC §3: rpID from the issuer) */
  id: string;
  /** the issuer's origin (SPEC §3: origin from the issuer) */
  origin: string;
  name: string;
}

export function relyingPartyFor(issuer: string, name?: string): RelyingParty {
  const url = new URL(issuer);
  return { id: url.hostname, origin: url.origin, name: name ?? url.host };
}

/** `passkey`: discoverable, user-verifying (one tap signs in). `security_key`: a second factor, no PIN needed. */
export type AuthenticatorKind = 'passkey' | 'security_key';
export const AUTHENTICATOR_KINDS: readonly AuthenticatorKind[] = ['passkey', 'security_key'];

export async function registrationOptions(args: {
  rp: RelyingParty;
  userHandle: Uint8Array;
  userName: string;
  displayName: string;
  kind: AuthenticatorKind;
  existing: Pick<StoredWebAuthnCredential, 'credentialId' | 'transports'>[];
}): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { generateRegistrationOptions } = await simpleWebAuthn();
  return generateRegistrationOptions({
    rpName: args.rp.name,
    rpID: args.rp.id,
    userID: new Uint8Array(args.userHandle),
    userName: args.userName,
    userDisplayName: args.displayName,
    timeout: CEREMONY_TIMEOUT_MS,
    // no trust roots for attestation are configured (no FIDO MDS): asking for it would only collect
    // claims we cannot check, so a credential is never marked attested (README: requireAttestation)
    attestationType: 'none',
    // the same authenticator twice would look like two factors: the browser refuses it up front
    excludeCredentials: args.existing.map((c) => ({ id: c.credentialId, transports: c.transports as AuthenticatorTransport[] })),
    authenticatorSelection:
      args.kind === 'passkey'
        ? { residentKey: 'required', userVerification: 'required' }
        : { residentKey: 'discouraged', userVerification: 'discouraged', authenticatorAttachment: 'cross-platform' },
    supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
  });
}

export interface VerifiedRegistration {
  credentialId: string;
  publicKey: Uint8Array;
  signCount: number;
  transports: string[];
  aaguid: string;
  backupEligible: boolean;
  backupState: boolean;
  userVerified: boolean;
}

/** Throws WebAuthnRejected with a stable reason; never returns an unverified registration. */
export async function verifyRegistration(args: {
  rp: RelyingParty;
  response: RegistrationResponseJSON;
  expectedChallenge: string;
  kind: AuthenticatorKind;
}): Promise<VerifiedRegistration> {
  const { verifyRegistrationResponse } = await simpleWebAuthn();
  let result;
  try {
    result = await verifyRegistrationResponse({
      response: args.response,
      expectedChallenge: args.expectedChallenge,
      expectedOrigin: args.rp.origin,
      expectedRPID: args.rp.id,
      requireUserVerification: args.kind === 'passkey',
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    });
  } catch (err) {
    throw new WebAuthnRejected(classify(err));
  }
  if (!result.verified || !result.registrationInfo) throw new WebAuthnRejected('invalid_response');
  const info = result.registrationInfo;
  return {
    credentialId: info.credential.id,
    publicKey: info.credential.publicKey,
    signCount: info.credential.counter,
    transports: (info.credential.transports ?? []).filter((t) => typeof t === 'string').slice(0, 8),
    aaguid: info.aaguid,
    backupEligible: info.credentialDeviceType === 'multiDevice',
    backupState: info.credentialBackedUp,
    userVerified: info.userVerified,
  };
}

export async function authenticationOptions(args: {
  rp: RelyingParty;
  /** empty: a discoverable credential (passkey sign-in, username optional) */
  allow: Pick<StoredWebAuthnCredential, 'credentialId' | 'transports'>[];
  requireUserVerification: boolean;
}): Promise<PublicKeyCredentialRequestOptionsJSON> {
  // the same options @simplewebauthn/server's generateAuthenticationOptions makes (WebAuthn L3 §5.5)
  return {
    rpId: args.rp.id,
    challenge: randomBytes(CHALLENGE_BYTES).toString('base64url'),
    allowCredentials: args.allow.map((c) => {
      if (!BASE64URL.test(c.credentialId)) throw new Error(`allowCredential id "${c.credentialId}" is not a valid base64url string`);
      return { id: c.credentialId.replace(/=+$/, ''), transports: c.transports as AuthenticatorTransport[], type: 'public-key' as const };
    }),
    timeout: CEREMONY_TIMEOUT_MS,
    userVerification: args.requireUserVerification ? 'required' : 'preferred',
  };
}

export interface VerifiedAssertion {
  newSignCount: number;
  userVerified: boolean;
  backupState: boolean;
}

/**
 * Verifies an assertion against a stored credential. The caller has already consumed the challenge
 * and checked that the credential belongs to the right account.
 */
export async function verifyAssertion(args: {
  rp: RelyingParty;
  response: AuthenticationResponseJSON;
  expectedChallenge: string;
  credential: StoredWebAuthnCredential;
  requireUserVerification: boolean;
}): Promise<VerifiedAssertion> {
  const { verifyAuthenticationResponse } = await simpleWebAuthn();
  let result;
  try {
    result = await verifyAuthenticationResponse({
      response: args.response,
      expectedChallenge: args.expectedChallenge,
      expectedOrigin: args.rp.origin,
      expectedRPID: args.rp.id,
      credential: {
        id: args.credential.credentialId,
        publicKey: new Uint8Array(args.credential.publicKey),
        counter: args.credential.signCount,
        transports: args.credential.transports as AuthenticatorTransport[],
      },
      requireUserVerification: args.requireUserVerification,
    });
  } catch (err) {
    throw new WebAuthnRejected(classify(err));
  }
  // SPEC §3: `verified: false` (a bad signature) is a failure, exactly like a throw
  if (!result.verified) throw new WebAuthnRejected('bad_signature');
  const info = result.authenticationInfo;
  // SPEC §3: BE is fixed when a credential is created; a device-bound credential that now claims to be
  // backed up (or the reverse) is not the credential that was registered
  const backupEligible = info.credentialDeviceType === 'multiDevice';
  if (backupEligible !== args.credential.backupEligible) throw new WebAuthnRejected('backup_eligibility_changed');
  return { newSignCount: info.newCounter, userVerified: info.userVerified, backupState: info.credentialBackedUp };
}

/** Why a ceremony was refused: stable values for the audit trail. */
export type RejectionReason =
  | 'challenge_invalid'
  | 'wrong_origin'
  | 'wrong_rp_id'
  | 'counter_not_increased'
  | 'user_not_verified'
  | 'bad_signature'
  | 'backup_eligibility_changed'
  | 'unknown_credential'
  | 'credential_of_another_account'
  | 'user_handle_mismatch'
  | 'malformed_response'
  | 'invalid_response';

export class WebAuthnRejected extends Error {
  constructor(readonly reason: RejectionReason) {
    super(`webauthn rejected: ${reason}`);
    this.name = 'WebAuthnRejected';
  }
}

/**
 * Issue #15 item 6: the posted credential id matches no stored credential (removed by its owner or an
 * admin, or never registered here). Only the id the browser itself sent is kept, so the page can tell
 * the browser (WebAuthn signal API) and the person that this passkey is no longer registered.
 */
export class UnknownCredential extends WebAuthnRejected {
  constructor(readonly credentialId: string) {
    super('unknown_credential');
    this.name = 'UnknownCredential';
  }
}

function classify(err: unknown): RejectionReason {
  const message = err instanceof Error ? err.message : '';
  if (/counter/i.test(message)) return 'counter_not_increased';
  if (/origin/i.test(message)) return 'wrong_origin';
  if (/RP ID|rpIdHash/i.test(message)) return 'wrong_rp_id';
  if (/challenge/i.test(message)) return 'challenge_invalid';
  if (/User verification|not present/i.test(message)) return 'user_not_verified';
  return 'invalid_response';
}

/**
 * The challenge a response claims to answer (base64url), read from its clientDataJSON, so the
 * server-side record can be consumed before anything else is believed. Undefined when malformed.
 */
export function challengeOf(response: { response?: { clientDataJSON?: unknown } }): string | undefined {
  const raw = response.response?.clientDataJSON;
  if (typeof raw !== 'string' || raw.length > 4096) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof parsed.challenge === 'string' ? parsed.challenge : undefined;
  } catch {
    return undefined;
  }
}

/** A browser response as posted in a form field: JSON, bounded, shaped like a PublicKeyCredential. */
export function parseCredentialJson<T extends AuthenticationResponseJSON | RegistrationResponseJSON>(raw: unknown): T | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 16_384) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<T>;
    if (!parsed || typeof parsed !== 'object' || typeof parsed.id !== 'string' || typeof parsed.rawId !== 'string' || parsed.id !== parsed.rawId) return undefined;
    if (parsed.type !== 'public-key' || !parsed.response || typeof parsed.response !== 'object') return undefined;
    return parsed as T;
  } catch {
    return undefined;
  }
}
