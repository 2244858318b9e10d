import { decide, type DecisionInputs, type DecisionResult } from './decide.js';
import type { FactorEvent } from './factor-events.js';
import { walkChain } from './held-levels.js';
import { lowestLevel, type StepKind } from './levels.js';
import { NO_KINDS, provesStep } from './steps.js';

/**
 * Issue #19: a decision explained. explain() calls decide() (the one decision function, SPEC §2) and
 * lays out what it looked at and why it answered as it did, so the admin trace and the policy dry-run
 * cannot disagree with what a real sign-in gets. Pure: `now` is in the inputs. Every entry carries the
 * raw code (acr, reason, step) next to its plain words.
 */

export interface HeldLevelTrace {
  acr: string;
  held: boolean;
  /** seconds since the newest verification of this level's step (undefined: never verified) */
  ageSeconds?: number;
  maxAgeSeconds: number;
  words: string;
}

export interface StepTrace {
  acr: string;
  step: StepKind;
  allowedFactors: string[];
  words: string;
}

export interface Trace {
  inputs: {
    request: DecisionInputs['request'];
    client: DecisionInputs['client'];
    sessionEvents: readonly FactorEvent[];
    enrolled: { factor: string; credentialId: string }[];
    now: number;
    demands: NonNullable<DecisionInputs['demands']>;
  };
  requirement: DecisionResult['requirement'] & { words: string };
  held: HeldLevelTrace[];
  target?: { acr: string; words: string };
  steps: StepTrace[];
  outcome: { code: 'satisfied' | 'step_up' | 'unmet'; reason: string; words: string };
  issued?: { acr?: string; amr: string[]; authTime: number };
  enrollmentAllowed?: boolean;
}

const STEP_WORDS: Record<StepKind, string> = {
  primary: 'a primary factor (password or passkey)',
  second_factor: 'a second factor of another kind',
  phishing_resistant: 'a phishing-resistant WebAuthn assertion',
  device_bound: 'a WebAuthn assertion from a device-bound credential',
};

/** Plain words for every stable reason code of evaluate() and parseRequirement(). */
export const REASON_WORDS: Record<string, string> = {
  already_held: 'the session already holds a requested level, so no prompt',
  target_reached: 'the sign-in reached the level it set out for',
  no_acr_requested: 'no level was asked for, so the highest level the session holds is issued',
  no_session: 'the session has no verification yet',
  level_not_held: 'a level up to the target is not held (never reached, or its window passed)',
  max_age_exceeded: 'the target is held but the last verification is older than max_age',
  fresh_login_requested: 'prompt=login or max_age=0 asks for a full fresh authentication',
  essential_acr_unknown: 'an essential acr names only levels the policy does not know',
  client_minimum_acr_unknown: "the client's minimum_acr is not a level of the policy",
  no_enrolled_factor_for_target: "no requested level can be reached with the user's enrolled factors",
  self_enrollment_disabled: 'only enrolling a first second factor would help, and selfEnrollment is off',
};

const SOURCE_WORDS: Record<string, string> = {
  claims_essential: 'an essential acr in the claims parameter',
  acr_values: 'the acr_values parameter',
  claims: 'a voluntary acr in the claims parameter',
  client_default: "the client's default_acr_values",
  client_minimum: "the client's minimum_acr",
  none: 'nothing (no acr asked)',
};

const duration = (seconds: number): string => {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
};

export function explain(inputs: DecisionInputs): Trace {
  const result = decide(inputs);
  const { requirement, decision } = result;
  const { policy, now } = inputs;
  // the events decide() counted: with prompt=login nothing from before (SPEC §2 rule 6)
  const counted = [...(requirement.freshLogin ? [] : inputs.sessionEvents), ...(inputs.interaction?.events ?? [])].filter((e) => e.at <= now);
  const chain = walkChain(policy, counted, now);
  // "why not?": the newest verification of each level's step whatever its age (the chain above only
  // knows the fresh ones), compared with the primary verifications of any age for "another kind"
  const primary = lowestLevel(policy);
  const primaryKinds = new Set(counted.filter((e) => provesStep(e, primary, NO_KINDS)).map((e) => e.factor));
  const newestFirst = [...counted].sort((a, b) => b.at - a.at);
  let gap: string | undefined;
  const held: HeldLevelTrace[] = policy.levels.map((level) => {
    const isHeld = decision.held.includes(level.acr);
    const proof = isHeld ? chain.held.find((h) => h.level.acr === level.acr)?.proofs.at(-1) : newestFirst.find((e) => provesStep(e, level, primaryKinds));
    const ageSeconds = proof ? now - proof.at : undefined;
    let words: string;
    if (isHeld) words = `held: verified ${duration(ageSeconds ?? 0)} ago, window ${duration(level.maxAge)}`;
    else if (ageSeconds === undefined) words = 'not held: never verified in this session';
    else if (ageSeconds > level.maxAge) words = `not held: last verified ${duration(ageSeconds)} ago, older than its ${duration(level.maxAge)} window`;
    else words = `not held: verified ${duration(ageSeconds)} ago, but ${gap ?? 'a lower level'} is not held`;
    if (!isHeld) gap ??= level.acr;
    return { acr: level.acr, held: isHeld, ...(ageSeconds !== undefined ? { ageSeconds } : {}), maxAgeSeconds: level.maxAge, words };
  });

  const asked = requirement.requested.length > 0 ? requirement.requested.join(' ') : 'no level';
  const requirementWords =
    `asked for ${asked} from ${SOURCE_WORDS[requirement.source] ?? requirement.source}` +
    (requirement.essential ? ' (essential)' : '') +
    (requirement.maxAge !== undefined ? `, max_age ${requirement.maxAge} s` : '') +
    (requirement.freshLogin ? ', a fresh login' : '');

  const targetAcr = decision.outcome === 'step_up' ? decision.target : decision.outcome === 'satisfied' ? decision.acr : undefined;
  const target = targetAcr
    ? {
        acr: targetAcr,
        words:
          decision.outcome === 'step_up'
            ? `${targetAcr}: the first requested level the user can reach with enrolled factors`
            : `${targetAcr}: ${REASON_WORDS[decision.reason] ?? decision.reason}`,
      }
    : undefined;

  const steps: StepTrace[] =
    decision.outcome === 'step_up'
      ? decision.missing.map((m) => ({
          acr: m.acr,
          step: m.step,
          allowedFactors: m.allowedFactors,
          words: `${m.acr}: ${STEP_WORDS[m.step]}` + (m.allowedFactors.length > 0 ? ` — one of ${m.allowedFactors.join(', ')}` : ' — to be enrolled now'),
        }))
      : [];

  // SPEC §2 rule 7: with prompt=none no page can be shown, so a step-up is answered login_required
  const silent = /(^|\s)none(\s|$)/.test(inputs.request.prompt ?? '');
  const outcomeWords =
    decision.outcome === 'satisfied'
      ? (inputs.interaction?.events.length ?? 0) > 0
        ? 'signed in after the steps on the sign-in pages'
        : 'signed in without a prompt'
      : decision.outcome === 'step_up'
        ? silent
          ? 'prompt=none: no page can be shown, so the client gets login_required'
          : 'the user is asked for the missing steps'
        : 'refused: the client gets unmet_authentication_requirements';

  return {
    inputs: {
      request: inputs.request,
      client: inputs.client,
      sessionEvents: inputs.sessionEvents,
      enrolled: inputs.enrolled.map((f) => ({ factor: f.factor, credentialId: f.credentialId })),
      now,
      demands: inputs.demands ?? [],
    },
    requirement: { ...requirement, words: requirementWords },
    held,
    ...(target ? { target } : {}),
    steps,
    outcome: { code: decision.outcome, reason: decision.reason, words: `${outcomeWords}; ${REASON_WORDS[decision.reason] ?? decision.reason}` },
    ...(decision.outcome === 'satisfied' ? { issued: { ...(decision.acr ? { acr: decision.acr } : {}), amr: decision.amr, authTime: decision.authTime } } : {}),
    ...(decision.outcome === 'step_up' ? { enrollmentAllowed: decision.enrollmentAllowed } : {}),
  };
}

/**
 * `--session "password@-10m,totp@-5m"`: factor events relative to `now` (issue #19 dry-run).
 * Kinds: password, totp, recovery_code, passkey (user-verified synced WebAuthn), security_key (device-bound, no UV).
 * Throws an Error with a one-line reason on a bad entry.
 */
export function parseSessionSpec(spec: string, now: number): FactorEvent[] {
  const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
  return spec
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const match = /^(password|totp|recovery_code|passkey|security_key)@-(\d+)([smhd])$/.exec(part);
      if (!match) throw new Error(`bad session event "${part}" (expected e.g. password@-10m, kinds password|totp|recovery_code|passkey|security_key)`);
      const at = now - Number(match[2]) * UNIT[match[3]!]!;
      switch (match[1]) {
        case 'password':
          return { factor: 'password', at, amr: ['pwd'] };
        case 'totp':
          return { factor: 'totp', at, amr: ['otp'] };
        case 'recovery_code':
          return { factor: 'recovery_code', at, amr: ['otp'] };
        case 'passkey':
          return { factor: 'webauthn', at, userVerified: true, backupEligible: true, amr: ['swk', 'user', 'mfa'] };
        default:
          return { factor: 'webauthn', at, userVerified: false, backupEligible: false, amr: ['hwk', 'user'] };
      }
    }) as FactorEvent[];
}
