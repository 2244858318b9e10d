import { z } from 'zod';

/**
 * Issue #19: the shapes of the decision trace (explain() in src/stepup/explain.ts) and of the two
 * routes that answer with it, for validation and the OpenAPI document.
 */
const noNul = (s: string) => !s.includes('\u0000');
const timestamp = z.string().meta({ format: 'date-time' });
const outcomeCode = z.enum(['satisfied', 'step_up', 'unmet']);

const factorEvent = z.object({
  factor: z.string(),
  credentialId: z.string().optional(),
  at: z.number().int().meta({ description: 'epoch seconds' }),
  amr: z.array(z.string()),
  userVerified: z.boolean().optional(),
  backupEligible: z.boolean().optional(),
  attested: z.boolean().optional(),
});

const stepTrace = z.object({
  acr: z.string(),
  step: z.string().meta({ description: 'primary, second_factor, phishing_resistant or device_bound' }),
  allowedFactors: z.array(z.string()),
  words: z.string(),
});

export const traceOutput = z
  .object({
    inputs: z.object({
      request: z.object({
        acrValues: z.string().optional(),
        claims: z.unknown().optional().meta({ description: 'the claims parameter (recorded sign-ins keep only id_token.acr)' }),
        maxAge: z.number().int().optional(),
        prompt: z.string().optional(),
      }),
      client: z.object({ defaultAcrValues: z.array(z.string()).optional(), minimumAcr: z.string().optional() }),
      sessionEvents: z.array(factorEvent),
      enrolled: z.array(z.object({ factor: z.string(), credentialId: z.string() })),
      now: z.number().int().meta({ description: 'epoch seconds' }),
      demands: z.array(z.object({ acr: z.string(), reason: z.string() })),
    }),
    requirement: z.object({
      requested: z.array(z.string()),
      essential: z.boolean(),
      maxAge: z.number().int().optional(),
      freshLogin: z.boolean(),
      unmetReason: z.string().optional(),
      source: z.string(),
      words: z.string(),
    }),
    held: z.array(z.object({ acr: z.string(), held: z.boolean(), ageSeconds: z.number().int().optional(), maxAgeSeconds: z.number().int(), words: z.string() })),
    target: z.object({ acr: z.string(), words: z.string() }).optional(),
    steps: z.array(stepTrace),
    outcome: z.object({ code: outcomeCode, reason: z.string(), words: z.string() }),
    issued: z.object({ acr: z.string().optional(), amr: z.array(z.string()), authTime: z.number().int() }).optional(),
    enrollmentAllowed: z.boolean().optional(),
  })
  .meta({ description: "A decision explained (SPEC §2): what was asked, what the session held, the target and why, the steps, the outcome; each part in plain words beside its codes" });

const factorUsed = z.object({
  factor: z.string(),
  credentialId: z.string().optional(),
  label: z.string().optional(),
  model: z.string().optional(),
  aaguid: z.string().optional(),
  at: z.number().int(),
  amr: z.array(z.string()),
});

export const decisionOutput = z.object({
  id: z.string().meta({ description: 'the audit event id' }),
  at: timestamp,
  resumed: z.boolean().meta({ description: 'the decision at the resume, after the sign-in pages' }),
  outcome: outcomeCode,
  reason: z.string().nullable(),
  trace: traceOutput.nullable().meta({ description: 'null for decisions recorded before decision traces' }),
  steps_asked: z.array(stepTrace).nullable(),
  factors_used: z.array(factorUsed).nullable(),
  signals: z.unknown().optional(),
});

export const signInOutput = z.object({
  sign_in: z.string(),
  client_id: z.string().nullable(),
  client_name: z.string().nullable(),
  started_at: timestamp,
  finished_at: timestamp,
  outcome: outcomeCode.meta({ description: "the last decision's outcome; step_up: the step-up was not finished" }),
  decisions: z.array(decisionOutput),
});

export const signInPageOutput = z.object({ items: z.array(signInOutput), next_before: z.string().nullable() });

export const decisionsQuery = z
  .object({
    client_id: z.string().max(128).refine(noNul, 'must not contain NUL').optional(),
    outcome: outcomeCode.optional(),
    before: z.string().regex(/^\d{1,18}$/).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  })
  .strict();

export const explainInput = z
  .object({
    user: z.string().trim().min(1).max(254).refine(noNul, 'must not contain NUL').meta({ description: 'user id or email' }),
    client_id: z.string().min(1).max(128).refine(noNul, 'must not contain NUL'),
    acr_values: z.string().max(1000).refine(noNul, 'must not contain NUL').optional(),
    claims: z.union([z.string().max(4000), z.record(z.string(), z.unknown())]).optional().meta({ description: 'the claims parameter, as an object or its JSON text' }),
    max_age: z.number().int().min(0).max(10 * 365 * 86400).optional(),
    prompt: z.string().max(100).refine(noNul, 'must not contain NUL').optional(),
    at: z.iso.datetime({ offset: true }).optional().meta({ description: 'evaluate at this time (default: now)' }),
    session: z.string().max(1000).optional().meta({ description: 'the session\'s factor events relative to `at`, e.g. "password@-10m,totp@-5m" (password, totp, recovery_code, passkey, security_key; s, m, h, d)' }),
    policy: z.record(z.string(), z.unknown()).optional().meta({ description: 'a candidate policy (the POLICY_FILE JSON); default: the configured policy' }),
  })
  .strict();

export const explainOutput = z.object({
  user: z.object({ id: z.string(), email: z.string() }),
  client: z.object({ id: z.string(), name: z.string().nullable() }),
  at: timestamp,
  policy: z.enum(['configured', 'given']),
  trace: traceOutput,
});
