import type { Audit } from '../audit/audit.js';
import type { Policy } from '../stepup/index.js';
import type { AccountReads } from '../store/account-reads.js';
import type { FactorsRepo } from '../store/factors.repo.js';
import type { RecoveryCodesRepo } from '../store/recovery-codes.repo.js';
import type { ChallengeStore } from '../store/redis/webauthn-challenges.js';
import type { WebAuthnUsersRepo } from '../store/webauthn-users.repo.js';
import type { AttemptGuard } from './attempts.js';
import type { Notifier } from '../notifications/notifier.js';
import type { RelyingParty } from './webauthn/webauthn.js';

/** What the factor modules need: stores, the audit trail, the notifier. Handed in by the composition root. */
export interface FactorDeps {
  policy: Policy;
  reads: AccountReads;
  factors: FactorsRepo;
  recoveryCodes: RecoveryCodesRepo;
  webauthnUsers: WebAuthnUsersRepo;
  challenges: ChallengeStore;
  rp: RelyingParty;
  audit: Audit;
  attempts: AttemptGuard;
  notify: Notifier;
  /** shown in authenticator apps next to the account (the issuer's host) */
  issuerName: string;
  /** epoch seconds: the one clock of decisions, challenges and codes (tests move it) */
  now: () => number;
}
