import { createHash } from 'node:crypto';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { z } from 'zod';
import { DuplicateCredentialError } from '../../store/factors.repo.js';
import type { FactorDeps } from '../deps.js';
import { completeEnrollment, factorAdded, refuseEnrollment } from '../enrollment.js';
import type { Enrollment, StepFactor } from '../factor.js';
import { hashRecoveryCode, newRecoveryCodes } from '../recovery-codes/recovery-codes.js';
import { acceptAssertion, credentialsForSteps, prepareAssertion } from './assertion.js';
import { authenticatorModel } from './authenticator-models.js';
import { CHALLENGE_TTL_SECONDS, challengeOf, parseCredentialJson, registrationOptions, UnknownCredential, verifyRegistration, WebAuthnRejected, type AuthenticatorKind } from './webauthn.js';

const form = z.object({ response: z.string().max(20_000).default('') });
export type WebAuthnInput = z.infer<typeof form>;
const MAX_LABEL_LENGTH = 64;
const registrationForm = z.object({ response: z.string().max(20_000).default(''), label: z.string().max(1000).default('') });
export type RegistrationInput = z.infer<typeof registrationForm>;

const BASE64URL = /^[A-Za-z0-9_-]{1,1400}$/;
export const UNKNOWN_PASSKEY = 'That passkey is no longer registered here, so it cannot sign you in. Sign in another way; you can add a new passkey from your account.';

const digest = (value: string) => createHash('sha256').update(value).digest('base64url');

/**
 * A WebAuthn assertion (SPEC §3): a passkey sign-in from the login page (the credential names the
 * account) or a step-up factor of the account already identified. The challenge is consumed before
 * anything in the response is believed (assertion.ts).
 */
export function webauthnFactor(deps: FactorDeps): StepFactor<'webauthn', WebAuthnInput> {
  return {
    kind: 'webauthn',
    route: 'webauthn',
    form,
    name: 'your passkey or security key',
    refusal: 'That passkey or security key could not be verified. Try again, or choose another way.',
    subjects(input, accountId, ip) {
      // a discoverable sign-in has no account yet: its failures count per credential id (and per IP)
      const claimedId = /"id"\s*:\s*"([A-Za-z0-9_-]{1,1400})"/.exec(input?.response ?? '')?.[1] ?? 'none';
      return { account: accountId ? `webauthn:acct:${accountId}` : `webauthn:cred:${digest(claimedId)}`, ip: `ip:${ip}` };
    },
    async verify({ ctx, interactionUid, accountId, input, now }) {
      let accepted;
      try {
        accepted = await acceptAssertion({ ...deps, now: () => now }, interactionUid, input.response, accountId);
      } catch (err) {
        // issue #15 item 6: a passkey the server no longer knows (removed by an admin, say) is named as such,
        // and the browser is told so it stops offering it. Nothing about any account is said: the caller
        // holds that credential, and an unknown id is unknown whoever asks.
        if (err instanceof UnknownCredential && BASE64URL.test(err.credentialId)) {
          return { ok: false, reason: err.reason, accountId, refusal: UNKNOWN_PASSKEY, unknownCredential: { rpId: deps.rp.id, credentialId: err.credentialId } };
        }
        if (err instanceof WebAuthnRejected) return { ok: false, reason: err.reason, accountId };
        throw err;
      }
      deps.reads.forget(ctx); // the credential's counter and backup state were written
      const account = await deps.reads.account(ctx, accepted.credential.accountId);
      if (!account || account.disabledAt) return { ok: false, reason: 'account_disabled', accountId: accepted.credential.accountId };
      const { credential } = accepted;
      return {
        ok: true,
        accountId: account.id,
        event: { factor: 'webauthn', credentialId: credential.factorId, at: now, userVerified: accepted.userVerified, backupEligible: credential.backupEligible, attested: credential.attested },
        details: { factorId: credential.factorId, userVerified: accepted.userVerified, backupEligible: credential.backupEligible },
      };
    },
    async page({ interactionUid, accountId, missing }) {
      const allow = credentialsForSteps(deps.policy, missing, await deps.factors.webAuthnCredentials(accountId));
      const options = await prepareAssertion(deps, interactionUid, { accountId, allow, requireUserVerification: false });
      const passkeys = allow.filter((c) => c.userVerifying).length;
      const [title, instruction, buttonText] =
        passkeys === allow.length
          ? ['Use your passkey', 'Use your passkey to continue.', 'Use your passkey']
          : passkeys === 0
            ? ['Insert your security key', 'Insert your security key and touch it when it blinks.', 'Use your security key']
            : ['Use your passkey', 'Use your passkey, or insert your security key and touch it.', 'Use your passkey or security key'];
      return { view: 'webauthn.njk', context: { title, instruction, buttonText, options } };
    },
    describe: (stored) => ({
      kindName: stored.webauthn?.userVerifying ? 'Passkey' : 'Security key',
      model: stored.webauthn?.authenticatorModel,
      backup: stored.webauthn ? (stored.webauthn.backupEligible ? (stored.webauthn.backupState ? 'Synced (backed up)' : 'Can be synced') : 'Device-bound') : undefined,
    }),
  };
}

/**
 * Registering a passkey or a security key (SPEC §3), in a step-up or on /account. The challenge is
 * stored server-side for the ceremony's slot and taken (single-use) before the answer is believed.
 * A verified registration is active at once; with attestation "none" it proves no possession by itself,
 * so a step-up then asks for one assertion with the new credential before it counts.
 */
export function webauthnEnrollment<C extends AuthenticatorKind>(deps: FactorDeps, kind: C): Enrollment<C, RegistrationInput> {
  const slot = (s: string) => `reg:${s}`;
  return {
    choice: kind,
    form: registrationForm,
    name: kind === 'passkey' ? 'A passkey' : 'A security key',
    hint:
      kind === 'passkey'
        ? 'Sign in with your fingerprint, face or screen lock. Phishing-resistant.'
        : 'A USB or NFC key you touch to sign in. Phishing-resistant, and it never leaves the key.',
    async begin(_ctx, subject) {
      const existing = await deps.factors.webAuthnCredentials(subject.accountId);
      const handle = await deps.webauthnUsers.handleFor(subject.accountId);
      const options = await registrationOptions({
        rp: deps.rp,
        userHandle: new Uint8Array(Buffer.from(handle, 'base64url')),
        userName: subject.email,
        displayName: subject.name ?? subject.email,
        kind,
        existing,
      });
      const now = deps.now();
      await deps.challenges.put(
        slot(subject.slot),
        { challenge: options.challenge, purpose: 'register', accountId: subject.accountId, kind, requireUserVerification: kind === 'passkey', expiresAt: now + CHALLENGE_TTL_SECONDS },
        CHALLENGE_TTL_SECONDS,
      );
      return { kind, options: JSON.stringify(options) };
    },
    async confirm(ctx, subject, input, now) {
      const record = await deps.challenges.take(slot(subject.slot));
      const fail = async (reason: string, message: string) => {
        await refuseEnrollment(deps, ctx, subject, 'webauthn', reason);
        return { ok: false as const, reason, message, status: 400 };
      };
      const response = parseCredentialJson<RegistrationResponseJSON>(input?.response);
      if (!response) return fail('malformed_response', 'Your browser did not send a usable answer. Try again.');
      if (!record || record.purpose !== 'register' || record.accountId !== subject.accountId || record.kind !== kind || record.expiresAt < now || challengeOf(response) !== record.challenge) {
        return fail('challenge_invalid', 'This request expired. Try again.');
      }
      let verified;
      try {
        verified = await verifyRegistration({ rp: deps.rp, response, expectedChallenge: record.challenge, kind });
      } catch (err) {
        if (!(err instanceof WebAuthnRejected)) throw err;
        return fail(err.reason, 'Your passkey or security key could not be verified. Try again.');
      }
      const model = authenticatorModel(verified.aaguid);
      const typed = (input?.label ?? '').trim().slice(0, MAX_LABEL_LENGTH);
      const label = typed || model || (kind === 'passkey' ? 'Passkey' : 'Security key');
      // the first second factor comes with recovery codes, stored in the same transaction (SPEC §3, issue #7)
      const codes = newRecoveryCodes();
      let factor;
      try {
        factor = await deps.factors.createWebAuthn(
          subject.accountId,
          {
            label,
            credentialId: verified.credentialId,
            publicKey: verified.publicKey,
            signCount: verified.signCount,
            transports: verified.transports,
            aaguid: verified.aaguid,
            backupEligible: verified.backupEligible,
            backupState: verified.backupState,
            userVerifying: verified.userVerified,
            attested: false,
          },
          codes.map(hashRecoveryCode),
          factorAdded(deps, ctx, subject.accountId),
        );
      } catch (err) {
        if (err instanceof DuplicateCredentialError) return fail('duplicate_credential', 'This passkey or security key is already registered.');
        throw err;
      }
      deps.reads.forget(ctx);
      const recoveryCodes = factor.recoveryCodesIssued ? codes : undefined;
      await completeEnrollment(deps, ctx, subject, {
        factorId: factor.id,
        type: 'webauthn',
        details: { kind, aaguid: verified.aaguid, backupEligible: verified.backupEligible, userVerified: verified.userVerified },
        ...(recoveryCodes ? { recoveryCodes } : {}),
      });
      return { ok: true, factorId: factor.id, ...(recoveryCodes ? { recoveryCodes } : {}) };
    },
  };
}
