import { z } from 'zod';
import { DEFAULT_RISK_POLICY, type RiskPolicy } from './risk-policy.js';

/**
 * Assurance levels (SPEC §1): an ordered chain. Each level adds one *step* on top of the level below
 * it and has its own freshness window (max age). The default chain ships in DEFAULT_POLICY; a policy
 * file (POLICY_FILE, SPEC §6) may replace it and is read through parsePolicy().
 */

/** What lifts a session from the level below to this one (SPEC §1 table, third column). */
export type StepKind = 'primary' | 'second_factor' | 'phishing_resistant' | 'device_bound';

export const STEP_KINDS = ['primary', 'second_factor', 'phishing_resistant', 'device_bound'] as const satisfies readonly StepKind[];

export interface LevelDefinition {
  /** the acr value RPs request and ID tokens carry */
  acr: string;
  /** 1 for the lowest level; a level's rank is its position in the chain */
  rank: number;
  step: StepKind;
  /** seconds: the step must have been verified within this window for the level to be held (SPEC §1) */
  maxAge: number;
  /**
   * device_bound only: the credential's attestation must have been verified. Without it, the
   * backup-eligible flag is the authenticator's own claim (SPEC §3 WebAuthn).
   */
  requireAttestation?: boolean;
}

export interface Policy {
  /** ordered lowest first; levels[0] is the primary step */
  levels: LevelDefinition[];
  /** SPEC §4: a user with only a password may enroll a first second factor during a step-up */
  selfEnrollment: boolean;
  /** issue #16: risk signals that demand a step (src/stepup/risk.ts); absent: none */
  risk?: RiskPolicy;
}

const HOUR_SECONDS = 3600;
const DAY_SECONDS = 24 * HOUR_SECONDS;

/** SPEC §1: the defaults that must ship. Deeply frozen: it is shared by every request. */
export const DEFAULT_POLICY: Policy = deepFreeze({
  levels: [
    { acr: 'aal1', rank: 1, step: 'primary', maxAge: 30 * DAY_SECONDS },
    { acr: 'aal2', rank: 2, step: 'second_factor', maxAge: 12 * HOUR_SECONDS },
    { acr: 'phr', rank: 3, step: 'phishing_resistant', maxAge: 12 * HOUR_SECONDS },
    { acr: 'phrh', rank: 4, step: 'device_bound', maxAge: 12 * HOUR_SECONDS },
  ],
  selfEnrollment: true,
  risk: DEFAULT_RISK_POLICY,
});

function deepFreeze<T extends Policy>(policy: T): T {
  policy.levels.forEach((level) => Object.freeze(level));
  Object.freeze(policy.levels);
  return Object.freeze(policy);
}

/** The level named by an acr value, or undefined for a value the policy does not know. */
export const levelOf = (policy: Policy, acr: string): LevelDefinition | undefined => policy.levels.find((l) => l.acr === acr);

/** The chain's first level: its step is the primary factor. */
export const lowestLevel = (policy: Policy): LevelDefinition => {
  const lowest = policy.levels[0];
  if (!lowest) throw new Error('a policy has at least one level'); // parsePolicy guarantees it
  return lowest;
};

// ---------------------------------------------------------------------------------------------
// Policy file (SPEC §6 POLICY_FILE): `{ "levels": [{ "acr", "step", "maxAge" (seconds),
// "requireAttestation"? }, …] (lowest first), "selfEnrollment"? (default true), "risk"? (issue #16) }`.

/** Messages for an object that is not one, or that has fields the policy does not know (typos fail loudly). */
const objectErrors =
  (expected: string) =>
  (issue: z.core.$ZodRawIssue): string | undefined => {
    if (issue.code === 'invalid_type') return expected;
    if (issue.code === 'unrecognized_keys') return `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    return undefined;
  };

const levelSchema = z.strictObject(
  {
    acr: z
      .string({ error: 'is required and must be a string' })
      .min(1, { error: 'must not be empty' })
      .max(200, { error: 'must be at most 200 characters' })
      // acr_values is a space-separated list (OIDC Core §3.1.2.1), so a value cannot contain whitespace
      .regex(/^\S+$/, { error: 'must not contain spaces' }),
    rank: z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).optional(),
    step: z.enum(STEP_KINDS, { error: `is required and must be one of ${STEP_KINDS.join(', ')}` }),
    maxAge: z
      .number({ error: 'is required and must be a number of seconds' })
      .int({ error: 'must be a whole number of seconds' })
      .positive({ error: 'must be a positive number of seconds' }),
    requireAttestation: z.boolean({ error: 'must be true or false' }).optional(),
  },
  { error: objectErrors('must be an object with "acr", "step" and "maxAge"') },
);

const demandField = z.string({ error: 'must be an acr value of the policy\'s levels' }).min(1, { error: 'must not be empty' }).optional();
const enabledField = z.boolean({ error: 'must be true or false' }).default(true);
const wholeNumber = (what: string, min: number, max: number) =>
  z.number({ error: `must be a number ${what}` }).int({ error: `must be a whole number ${what}` }).min(min, { error: `must be at least ${min}` }).max(max, { error: `must be at most ${max}` });

/** Issue #16: `"risk": { "onUnreachable", "newDevice", "newNetwork", "recentFailures" }`, every field optional. */
const riskSchema = z.strictObject(
  {
    onUnreachable: z.enum(['notify', 'deny'], { error: 'must be "notify" or "deny"' }).default('notify'),
    newDevice: z
      .strictObject(
        { enabled: enabledField, demand: demandField, cookieMaxAgeDays: wholeNumber('of days', 1, 400).default(DEFAULT_RISK_POLICY.newDevice.cookieMaxAgeDays) },
        { error: objectErrors('must be an object with "enabled", "demand" and "cookieMaxAgeDays"') },
      )
      .default({ enabled: true, cookieMaxAgeDays: DEFAULT_RISK_POLICY.newDevice.cookieMaxAgeDays }),
    newNetwork: z
      .strictObject(
        {
          enabled: enabledField,
          demand: demandField,
          ipv4Prefix: wholeNumber('of bits', 8, 32).default(DEFAULT_RISK_POLICY.newNetwork.ipv4Prefix),
          ipv6Prefix: wholeNumber('of bits', 16, 128).default(DEFAULT_RISK_POLICY.newNetwork.ipv6Prefix),
        },
        { error: objectErrors('must be an object with "enabled", "demand", "ipv4Prefix" and "ipv6Prefix"') },
      )
      .default({ enabled: true, ipv4Prefix: DEFAULT_RISK_POLICY.newNetwork.ipv4Prefix, ipv6Prefix: DEFAULT_RISK_POLICY.newNetwork.ipv6Prefix }),
    recentFailures: z
      .strictObject(
        { enabled: enabledField, demand: demandField, threshold: wholeNumber('of failed attempts', 1, 100).default(DEFAULT_RISK_POLICY.recentFailures.threshold) },
        { error: objectErrors('must be an object with "enabled", "demand" and "threshold"') },
      )
      .default({ enabled: true, threshold: DEFAULT_RISK_POLICY.recentFailures.threshold }),
  },
  { error: objectErrors('must be an object with "onUnreachable", "newDevice", "newNetwork" and "recentFailures"') },
);

const SIGNALS = ['newDevice', 'newNetwork', 'recentFailures'] as const;

const policySchema = z
  .strictObject(
    {
      levels: z.array(levelSchema, { error: 'is required and must be a list of levels, lowest first' }).min(1, { error: 'must list at least one level' }),
      selfEnrollment: z.boolean({ error: 'must be true or false' }).default(true),
      risk: riskSchema.default({ onUnreachable: 'notify', newDevice: { enabled: true, cookieMaxAgeDays: 400 }, newNetwork: { enabled: true, ipv4Prefix: 24, ipv6Prefix: 48 }, recentFailures: { enabled: true, threshold: 3 } }),
    },
    { error: objectErrors('must be a JSON object with "levels" and optionally "selfEnrollment" and "risk"') },
  )
  .superRefine((policy, ctx) => {
    const seen = new Set<string>();
    policy.levels.forEach((level, i) => {
      if (seen.has(level.acr)) ctx.addIssue({ code: 'custom', path: ['levels', i, 'acr'], message: `duplicate acr value "${level.acr}"` });
      seen.add(level.acr);
      // SPEC §1: the chain starts with the primary factor and every other level adds one step on top
      if (i === 0 && level.step !== 'primary') ctx.addIssue({ code: 'custom', path: ['levels', 0, 'step'], message: 'the lowest level must be the "primary" step' });
      if (i > 0 && level.step === 'primary') ctx.addIssue({ code: 'custom', path: ['levels', i, 'step'], message: 'only the lowest level can be the "primary" step' });
      if (level.requireAttestation !== undefined && level.step !== 'device_bound') {
        ctx.addIssue({ code: 'custom', path: ['levels', i, 'requireAttestation'], message: 'only applies to a "device_bound" step' });
      }
      if (level.rank !== undefined && level.rank !== i + 1) {
        ctx.addIssue({ code: 'custom', path: ['levels', i, 'rank'], message: `must be ${i + 1} (levels are ranked by their position, lowest first) or left out` });
      }
    });
    // issue #16: a signal demands a level of this chain (a typo must not silently demand nothing)
    for (const signal of SIGNALS) {
      const demand = policy.risk[signal].demand;
      if (demand !== undefined && !seen.has(demand)) ctx.addIssue({ code: 'custom', path: ['risk', signal, 'demand'], message: `"${demand}" is not an acr value of the levels` });
    }
  });

/** `levels[1].maxAge`: where the problem is, as a person reading the file would look for it. */
function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

/**
 * Parses a policy file's JSON into a Policy (ranks follow the order of the levels).
 * @throws Error `invalid policy: levels[1].maxAge: must be a positive number of seconds; …`
 */
export function parsePolicy(json: unknown): Policy {
  const result = policySchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => (issue.path.length ? `${formatPath(issue.path)}: ${issue.message}` : issue.message));
    throw new Error(`invalid policy: ${problems.join('; ')}`);
  }
  return {
    levels: result.data.levels.map((level, i) => ({
      acr: level.acr,
      rank: i + 1,
      step: level.step,
      maxAge: level.maxAge,
      ...(level.requireAttestation !== undefined ? { requireAttestation: level.requireAttestation } : {}),
    })),
    selfEnrollment: result.data.selfEnrollment,
    risk: riskPolicyOf(result.data),
  };
}

/**
 * Issue #16: a signal's demand defaults to the chain's second level (aal2 in the default chain: a second
 * factor); a chain of one level has nothing to demand above it, so its signals are off.
 */
function riskPolicyOf(data: z.infer<typeof policySchema>): RiskPolicy {
  const second = data.levels[1]?.acr;
  const signal = <T extends { enabled: boolean; demand?: string }>(s: T) => ({ ...s, enabled: s.enabled && (s.demand ?? second) !== undefined, demand: s.demand ?? second ?? data.levels[0]!.acr });
  return {
    onUnreachable: data.risk.onUnreachable,
    newDevice: signal(data.risk.newDevice),
    newNetwork: signal(data.risk.newNetwork),
    recentFailures: signal(data.risk.recentFailures),
  };
}
