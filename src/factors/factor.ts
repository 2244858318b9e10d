import type { Context } from 'koa';
import type { z } from 'zod';
import type { EnrollmentChoice, EnrolledFactor, FactorEvent, FactorKind, MissingStep } from '../stepup/index.js';
import type { Factor as StoredFactor } from '../store/factors.repo.js';

/**
 * One interface for every factor (issue #13). A factor owns its form, its verification with its replay
 * protection, its rate-limit subjects, the page that asks for it and how it is named to people. The
 * verification pipeline (src/interactions/verify.routes.ts) does everything around it the same way for
 * all of them: load the interaction, decide, check lockout, verify, count, audit, record, continue.
 */
export interface AttemptSubjects {
  /** per account and factor, e.g. `totp:acct:<accountId>`; for passwords a digest of the typed email */
  account: string;
  ip: string;
}

export interface StepAttempt<Input> {
  ctx: Context;
  interactionUid: string;
  /** the account being signed in, once known; undefined on the first page (the factor identifies it) */
  accountId?: string;
  enrolled: EnrolledFactor[];
  now: number;
  input: Input;
}

export type StepOutcome =
  | {
      ok: true;
      accountId: string;
      /** the verification for the session (its amr is added by the pipeline, SPEC §2 rule 9) */
      event: Omit<FactorEvent, 'amr'>;
      /** for the audit event (never a secret) */
      details?: Record<string, unknown>;
      /** shown to the person before the sign-in goes on (e.g. recovery codes left, SPEC §3) */
      interstitial?: { view: string; context: Record<string, unknown> };
    }
  | {
      ok: false;
      reason: string;
      accountId?: string;
      /** a sentence that replaces the factor's generic refusal (it must reveal nothing the caller does not hold) */
      refusal?: string;
      /**
       * issue #15: the browser offered a WebAuthn credential the server does not know; the page reports
       * it with PublicKeyCredential.signalUnknownCredential where the browser has it
       */
      unknownCredential?: { rpId: string; credentialId: string };
    };

export interface PageArgs {
  ctx: Context;
  interactionUid: string;
  accountId: string;
  /** the steps still missing, first one now */
  missing: MissingStep[];
}

export interface StepFactor<K extends FactorKind, Input = unknown> {
  kind: K;
  /** its form posts to /interaction/<uid>/<route> */
  route: string;
  /** the zod schema of that form; a form that does not fit is a failed attempt like a wrong code */
  form: z.ZodType<Input>;
  /** the one sentence a person sees after any refusal: the reason goes to the audit trail only */
  refusal: string;
  /** SPEC §3: what the rate limits count an attempt against */
  subjects(input: Input | undefined, accountId: string | undefined, ip: string): AttemptSubjects;
  verify(attempt: StepAttempt<Input>): Promise<StepOutcome>;
  /** the page that asks for it (undefined for the primary factors, which share the sign-in page) */
  page?(args: PageArgs): Promise<{ view: string; context: Record<string, unknown> }>;
  /** a person's name for it, on the choice links and in /account and /admin */
  name: string;
  /** how a stored factor of this kind is described on /account and /admin */
  describe?(stored: StoredFactor): { kindName: string; model?: string | null; backup?: string };
}

/** The registry's shape: every kind of stepup/factor-kinds.ts has its factor, or the build fails. */
export type FactorRegistry = { [K in FactorKind]: StepFactor<K, any> };

/** Enrollment (SPEC §4), the same code for the step-up and /account. */
export interface EnrollmentSubject {
  accountId: string;
  email: string;
  name: string | null;
  /** a stable slot for this ceremony's server-side state (the interaction uid, or the /account session uid) */
  slot: string;
  /** who asked: the account itself, and through which client (for the audit trail) */
  clientId: string;
  /** 'during_step_up' or 'account_page' (audit reason) */
  via: 'during_step_up' | 'account_page';
}

export type EnrollmentResult =
  | {
      ok: true;
      factorId: string;
      /** a verification the confirmation itself was (a TOTP code), recorded for the session */
      event?: Omit<FactorEvent, 'amr'>;
      /** the first second factor's recovery codes, shown once (SPEC §3) */
      recoveryCodes?: string[];
    }
  | { ok: false; reason: string; message: string; status: number };

export interface Enrollment<C extends EnrollmentChoice, Input = unknown> {
  choice: C;
  /** the confirmation's form */
  form: z.ZodType<Input>;
  /** a person's name for the choice ("An authenticator app") and one line on what it is */
  name: string;
  hint: string;
  /** starts the ceremony: the page's context (QR code and key, or registration options) */
  begin(ctx: Context, subject: EnrollmentSubject): Promise<Record<string, unknown>>;
  /** finishes it; on success the factor is active, audited and notified */
  confirm(ctx: Context, subject: EnrollmentSubject, input: Input | undefined, now: number): Promise<EnrollmentResult>;
}

export type EnrollmentRegistry = { [C in EnrollmentChoice]: Enrollment<C, any> };
