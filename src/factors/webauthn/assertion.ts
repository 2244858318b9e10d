import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import {
  authenticationOptions,
  challengeOf,
  CHALLENGE_TTL_SECONDS,
  parseCredentialJson,
  verifyAssertion,
  UnknownCredential,
  WebAuthnRejected,
  type RelyingParty,
} from './webauthn.js';
import { levelOf, provesStep, type MissingStep, type Policy } from '../../stepup/index.js';
import type { FactorsRepo, StoredWebAuthnCredential } from '../../store/factors.repo.js';
import type { ChallengeStore } from '../../store/redis/webauthn-challenges.js';
import type { WebAuthnUsersRepo } from '../../store/webauthn-users.repo.js';

/**
 * A WebAuthn assertion inside an interaction (SPEC §3): as the primary factor (a passkey, username
 * optional) or as a step-up factor of an identified user. The options are made when the page is
 * shown and their challenge is stored for that interaction; a posted answer consumes it first, so a
 * replay, a second tab's stale answer or a parallel duplicate finds nothing.
 */
export interface WebAuthnStepDeps {
  policy: Policy;
  factors: FactorsRepo;
  webauthnUsers: WebAuthnUsersRepo;
  challenges: ChallengeStore;
  rp: RelyingParty;
  now: () => number;
}

const slotFor = (interactionUid: string) => `ix:${interactionUid}`;

/** Credentials of the account that prove every missing step WebAuthn can prove (one tap reaches the target where possible). */
export function credentialsForSteps(policy: Policy, missing: MissingStep[], credentials: StoredWebAuthnCredential[]): StoredWebAuthnCredential[] {
  // the primary step was verified by something other than WebAuthn when a later step is asked for alone
  const primaryKinds = new Set(['password'] as const);
  const steps = missing.filter((m) => m.allowedFactors.includes('webauthn'));
  const fits = (c: StoredWebAuthnCredential, m: MissingStep) => {
    const level = levelOf(policy, m.acr);
    const candidate = { factor: 'webauthn' as const, userVerified: c.userVerifying, backupEligible: c.backupEligible, attested: c.attested };
    return level !== undefined && provesStep(candidate, level, primaryKinds);
  };
  const all = credentials.filter((c) => steps.every((m) => fits(c, m)));
  if (all.length > 0 || steps.length === 0) return all;
  return credentials.filter((c) => fits(c, steps[0]!));
}

/** Options for the page; stores the challenge (replacing any earlier one for this interaction). */
export async function prepareAssertion(
  deps: WebAuthnStepDeps,
  interactionUid: string,
  args: { accountId?: string; allow: StoredWebAuthnCredential[]; requireUserVerification: boolean },
): Promise<string> {
  const options = await authenticationOptions({ rp: deps.rp, allow: args.allow, requireUserVerification: args.requireUserVerification });
  await deps.challenges.put(
    slotFor(interactionUid),
    {
      challenge: options.challenge,
      purpose: 'authenticate',
      ...(args.accountId ? { accountId: args.accountId } : {}),
      requireUserVerification: args.requireUserVerification,
      expiresAt: deps.now() + CHALLENGE_TTL_SECONDS,
    },
    CHALLENGE_TTL_SECONDS,
  );
  return JSON.stringify(options);
}

export interface AcceptedAssertion {
  credential: StoredWebAuthnCredential;
  userVerified: boolean;
}

/**
 * Checks a posted assertion; throws WebAuthnRejected with the reason. Order matters: the challenge is
 * consumed before anything in the response is believed, and the counter is stored with a
 * compare-and-set after the signature checks out.
 * @param expectedAccountId the account being stepped up (undefined for a passkey sign-in)
 */
export async function acceptAssertion(deps: WebAuthnStepDeps, interactionUid: string, raw: unknown, expectedAccountId: string | undefined): Promise<AcceptedAssertion> {
  const record = await deps.challenges.take(slotFor(interactionUid));
  const response = parseCredentialJson<AuthenticationResponseJSON>(raw);
  if (!response) throw new WebAuthnRejected('malformed_response');
  if (!record || record.purpose !== 'authenticate' || record.expiresAt < deps.now() || challengeOf(response) !== record.challenge) {
    throw new WebAuthnRejected('challenge_invalid');
  }

  const credential = await deps.factors.findWebAuthnCredential(response.id);
  // the challenge was ours and fresh, so this is the browser's answer to our own request: its id is echoed back only
  if (!credential) throw new UnknownCredential(response.id);
  // SPEC §3: the credential must belong to the account being stepped up
  const account = record.accountId ?? expectedAccountId;
  if (account !== undefined && credential.accountId !== account) throw new WebAuthnRejected('credential_of_another_account');
  // …and userHandle must match it (required for a discoverable sign-in, where it names the account)
  const handle = response.response.userHandle;
  if (handle !== undefined || account === undefined) {
    const expected = await deps.webauthnUsers.existingHandle(credential.accountId);
    if (typeof handle !== 'string' || !expected || handle !== expected) throw new WebAuthnRejected('user_handle_mismatch');
  }

  const verified = await verifyAssertion({
    rp: deps.rp,
    response,
    expectedChallenge: record.challenge,
    credential,
    requireUserVerification: record.requireUserVerification,
  });
  // SPEC §3: the counter is ours to store; a parallel use of the same counter value loses here
  if (!(await deps.factors.recordWebAuthnUse(credential.factorId, credential.signCount, verified.newSignCount, verified.backupState))) {
    throw new WebAuthnRejected('counter_not_increased');
  }
  return { credential, userVerified: verified.userVerified };
}
