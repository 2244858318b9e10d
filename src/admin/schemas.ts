import { z } from 'zod';
import { ACCOUNT_CLIENT_ID } from '../account/internal-client.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, passwordPolicyError } from '../factors/password/password.js';
import { DEFAULT_ID_TOKEN_SIGNING_ALG, SIGNING_ALGORITHMS } from '../oidc/signing-keys.js';
import { ADMIN_CLIENT_ID } from './internal-client.js';

/**
 * Input and output shapes of the admin operations (issue #5), shared by the admin API (JSON) and the
 * admin UI (forms). The OpenAPI document is generated from these same schemas (openapi.ts), so the
 * document cannot drift from what the routes validate.
 */

export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
/** Ids of the built-in clients (stepup's own pages): never stored, edited or deleted. */
export const RESERVED_CLIENT_IDS = [ACCOUNT_CLIENT_ID, ADMIN_CLIENT_ID];

const noNul = (s: string) => !s.includes('\u0000');
const text = (max: number) => z.string().trim().max(max).refine(noNul, 'must not contain NUL');

const absoluteUrl = z
  .string()
  .max(2000)
  .refine((v) => {
    const url = URL.parse(v);
    // OAuth 2.1 §2.3.1: exact, absolute, no fragment; custom schemes for native apps
    return url !== null && !url.hash && /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) && !/^(javascript|data|vbscript|file):$/.test(url.protocol);
  }, 'must be an absolute URL without a fragment');

export const userCreateInput = z
  .object({
    email: z.string().trim().max(254, 'must be at most 254 characters').regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address'),
    name: text(200).optional(),
    password: z
      .string()
      // readable on the admin UI's form as well as in the API's problem details (NIST: length, never composition)
      .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
      .max(MAX_PASSWORD_LENGTH, `must be at most ${MAX_PASSWORD_LENGTH} characters`)
      .refine((p) => passwordPolicyError(p) === undefined, { message: 'is one of the most common passwords: choose another' }),
    admin: z.boolean().default(false),
  })
  .strict();

export const resetFactorsInput = z.object({ reason: text(500).pipe(z.string().min(1, 'a reason is required')) }).strict();
export const disableInput = z.object({ reason: text(500).optional() }).strict();

export const totpImportInput = z
  .object({
    /** base32 (RFC 4648), as exported by the previous provider; at least 128 bits (RFC 4226 §4) */
    secret: z
      .string()
      .transform((s) => s.replace(/[\s-]/g, '').toUpperCase().replace(/=+$/, ''))
      .pipe(z.string().regex(/^[A-Z2-7]{26,128}$/, 'must be a base32 secret of at least 128 bits')),
    label: text(64).pipe(z.string().min(1)).default('Authenticator app'),
  })
  .strict();

export const scopeString = z
  .string()
  .trim()
  .max(500)
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/, 'space-separated scope tokens');

/** A client's editable settings; the rules between fields are the CLI's (SPEC §7). */
export const clientSettings = z.object({
  client_name: text(200).optional(),
  redirect_uris: z.array(absoluteUrl).max(20).default([]),
  post_logout_redirect_uris: z.array(absoluteUrl).max(20).default([]),
  grant_types: z.array(z.enum(GRANT_TYPES)).min(1).max(3).default(['authorization_code', 'refresh_token']),
  scope: scopeString.optional(),
  default_acr_values: z.array(z.string().max(100)).max(10).default([]),
  minimum_acr: z.string().max(100).optional(),
  /** issue #14: RS256 when not given, as OIDC Dynamic Client Registration §2 says */
  id_token_signed_response_alg: z.enum(SIGNING_ALGORITHMS).default(DEFAULT_ID_TOKEN_SIGNING_ALG),
  /** absent: UserInfo answers plain JSON; set: a JWT signed with it (OIDC Core §5.3.2) */
  userinfo_signed_response_alg: z.enum(SIGNING_ALGORITHMS).optional(),
});

export const clientCreateInput = clientSettings
  .extend({
    client_id: z
      .string()
      .regex(/^[A-Za-z0-9._~-]{1,128}$/, 'letters, digits, . _ ~ -; at most 128')
      .refine((id) => !RESERVED_CLIENT_IDS.includes(id), 'reserved for a built-in client'),
    /** confidential (a secret is generated and shown once) or public (PKCE only) */
    confidential: z.boolean().default(true),
  })
  .strict();

export const clientUpdateInput = clientSettings.strict();

export type ClientSettings = z.output<typeof clientSettings>;

/** Cross-field rules (also checked on update, where the client's secret decides `confidential`). */
export function clientRuleViolations(c: ClientSettings, confidential: boolean, acrValues: string[]): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  if (c.grant_types.includes('authorization_code') && c.redirect_uris.length === 0) out.push({ path: 'redirect_uris', message: 'required for the authorization_code grant' });
  if (c.grant_types.includes('client_credentials') && !confidential) out.push({ path: 'grant_types', message: 'client_credentials needs a confidential client' });
  if (c.grant_types.includes('refresh_token') && !c.grant_types.includes('authorization_code')) out.push({ path: 'grant_types', message: 'refresh_token needs the authorization_code grant' });
  c.default_acr_values.forEach((a, i) => {
    if (!acrValues.includes(a)) out.push({ path: `default_acr_values/${i}`, message: `unknown acr (one of ${acrValues.join(', ')})` });
  });
  if (c.minimum_acr !== undefined && !acrValues.includes(c.minimum_acr)) out.push({ path: 'minimum_acr', message: `unknown acr (one of ${acrValues.join(', ')})` });
  return out;
}

// ---- outputs --------------------------------------------------------------------------------------

const timestamp = z.string().meta({ format: 'date-time' });
const nullableTimestamp = timestamp.nullable();

export const userOutput = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  admin: z.boolean(),
  disabled: z.boolean(),
  disabled_at: nullableTimestamp,
  created_at: timestamp,
});

export const factorOutput = z.object({
  id: z.string(),
  type: z.enum(['totp', 'webauthn']),
  label: z.string(),
  status: z.enum(['pending', 'active']),
  created_at: timestamp,
  confirmed_at: nullableTimestamp,
  last_used_at: nullableTimestamp,
  authenticator_model: z.string().nullable(),
  aaguid: z.string().nullable(),
  /** WebAuthn: false = device-bound */
  backup_eligible: z.boolean().nullable(),
  backup_state: z.boolean().nullable(),
  user_verifying: z.boolean().nullable(),
});

export const userDetailOutput = userOutput.extend({
  factors: z.array(factorOutput),
  recovery_codes_remaining: z.number().int(),
});

export const userPageOutput = z.object({
  items: z.array(userOutput),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});

export const clientOutput = z.object({
  client_id: z.string(),
  client_name: z.string().nullable(),
  client_type: z.enum(['confidential', 'public']),
  redirect_uris: z.array(z.string()),
  post_logout_redirect_uris: z.array(z.string()),
  grant_types: z.array(z.string()),
  scope: z.string().nullable(),
  default_acr_values: z.array(z.string()),
  minimum_acr: z.string().nullable(),
  id_token_signed_response_alg: z.enum(SIGNING_ALGORITHMS),
  userinfo_signed_response_alg: z.enum(SIGNING_ALGORITHMS).nullable(),
});

export const clientWithSecretOutput = clientOutput.extend({ client_secret: z.string().nullable() });
export const clientListOutput = z.object({ items: z.array(clientOutput) });

export const auditEventOutput = z.object({
  id: z.string(),
  at: timestamp,
  type: z.string(),
  outcome: z.enum(['success', 'failure', 'info']),
  reason: z.string().nullable(),
  actor: z.string().nullable(),
  subject: z.string().nullable(),
  client_id: z.string().nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  request_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});

export const auditPageOutput = z.object({
  items: z.array(auditEventOutput),
  /** pass as `before` for the next (older) page; null at the end */
  next_before: z.string().nullable(),
});

export const revokeOutput = z.object({ sessions: z.number().int(), grants: z.number().int() });
export const resetOutput = z.object({ factors: z.number().int(), recovery_codes: z.number().int(), sessions: z.number().int(), grants: z.number().int() });

/** RFC 9457 problem details. */
export const problemOutput = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

export const auditQuery = z
  .object({
    subject: z.string().max(200).refine(noNul, 'must not contain NUL').optional(),
    actor: z.string().max(200).refine(noNul, 'must not contain NUL').optional(),
    type: z.string().max(100).regex(/^[a-z0-9_.]+\*?$/, 'an event type, or a prefix ending in *').optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    before: z.string().regex(/^\d{1,18}$/).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .strict();

export const userQuery = z
  .object({
    q: z.string().max(254).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  })
  .strict();
