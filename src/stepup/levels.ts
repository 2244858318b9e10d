import { z } from 'zod';

/**
 * Assurance levels (SPEC §1): an ordered chain; each level adds one step on top of the level below it
 * and has its own freshness window.
 */
export type StepKind = 'primary' | 'second_factor' | 'phishing_resistant' | 'device_bound';

export interface LevelDefinition {
  acr: string;
  rank: number;
  step: StepKind;
  /** seconds: the step must have been verified within this window for the level to be held */
  maxAge: number;
  /** device_bound only: require a verified attestation (BE is otherwise the authenticator's own claim) */
  requireAttestation?: boolean;
}

export interface Policy {
  /** lowest first */
  levels: LevelDefinition[];
  /** SPEC §4: a user with only a password may enroll a first second factor during a step-up */
  selfEnrollment: boolean;
}

const HOUR = 3600;
const DAY = 24 * HOUR;

/** SPEC §1 defaults. */
export const DEFAULT_POLICY: Policy = Object.freeze({
  levels: [
    { acr: 'aal1', rank: 1, step: 'primary', maxAge: 30 * DAY },
    { acr: 'aal2', rank: 2, step: 'second_factor', maxAge: 12 * HOUR },
    { acr: 'phr', rank: 3, step: 'phishing_resistant', maxAge: 12 * HOUR },
    { acr: 'phrh', rank: 4, step: 'device_bound', maxAge: 12 * HOUR },
  ],
  selfEnrollment: true,
}) as Policy;

const levelSchema = z.object({
  acr: z.string().min(1).max(200).regex(/^\S+$/, 'must not contain spaces'),
  step: z.enum(['primary', 'second_factor', 'phishing_resistant', 'device_bound']),
  maxAge: z.number().int().positive(),
  requireAttestation: z.boolean().optional(),
});

const policySchema = z
  .object({
    levels: z.array(levelSchema).min(1),
    selfEnrollment: z.boolean().default(true),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.levels.forEach((l, i) => {
      if (seen.has(l.acr)) ctx.addIssue({ code: 'custom', path: ['levels', i, 'acr'], message: `duplicate acr ${l.acr}` });
      seen.add(l.acr);
    });
    if (p.levels[0]?.step !== 'primary') ctx.addIssue({ code: 'custom', path: ['levels', 0, 'step'], message: 'the lowest level must be a primary step' });
    p.levels.slice(1).forEach((l, i) => {
      if (l.step === 'primary') ctx.addIssue({ code: 'custom', path: ['levels', i + 1, 'step'], message: 'only the lowest level can be a primary step' });
    });
  });

/** A policy file's JSON: `{ "levels": [{ "acr", "step", "maxAge" (seconds) }, …] (lowest first), "selfEnrollment" }`. */
export function parsePolicy(json: unknown): Policy {
  const result = policySchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`invalid policy: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return {
    levels: result.data.levels.map((l, i) => ({ ...l, rank: i + 1 })),
    selfEnrollment: result.data.selfEnrollment,
  };
}

export const levelOf = (policy: Policy, acr: string) => policy.levels.find((l) => l.acr === acr);
