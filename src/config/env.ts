import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { isSigningAlgorithm, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../oidc/signing-keys.js';

/**
 * Configuration from the environment (SPEC §6). Parsed once, validated, frozen.
 * Secrets are never defaulted in production; in development they are generated once and kept
 * under the data directory so restarts keep sessions and encrypted data readable.
 */

export class ConfigError extends Error {}

/** JWT access token signature per resource indicator (RFC 8707); `*` stands for every other resource. */
export type ResourceSigningAlgs = ReadonlyMap<string, SigningAlgorithm>;

/**
 * RESOURCE_SIGNING_ALGS: comma-separated `RESOURCE=ALG` entries, e.g.
 * `https://api.example.com=ES256,*=RS256`. The algorithm follows the last `=` (an URL's query may hold one).
 */
export function parseResourceSigningAlgs(value: string | undefined): { algs?: ResourceSigningAlgs; problem?: string } {
  const algs = new Map<string, SigningAlgorithm>();
  for (const entry of (value ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const at = entry.lastIndexOf('=');
    const resource = entry.slice(0, at).trim();
    const alg = entry.slice(at + 1).trim();
    if (at <= 0) return { problem: `"${entry}" is not RESOURCE=ALG` };
    if (!isSigningAlgorithm(alg)) return { problem: `"${alg}" is not one of ${SIGNING_ALGORITHMS.join(', ')}` };
    const url = resource === '*' ? undefined : URL.parse(resource);
    if (resource !== '*' && (!url || url.hash)) return { problem: `"${resource}" is not an absolute URL without a fragment (or *)` };
    algs.set(resource, alg);
  }
  return { algs };
}

const PRODUCTION_REQUIRED = ['DATABASE_URL', 'REDIS_URL', 'COOKIE_KEYS', 'ENCRYPTION_KEY'] as const;
const MIN_COOKIE_KEY_LENGTH = 32;

const envSchema = z.object({
  NODE_ENV: z.string().optional(),
  // issue #15 (over SPEC §6's fixed http://localhost:3000): without ISSUER, the issuer follows PORT
  ISSUER: z
    .string()
    .optional()
    .refine((v) => {
      if (v === undefined) return true;
      try {
        const u = new URL(v);
        return (u.protocol === 'http:' || u.protocol === 'https:') && !u.search && !u.hash;
      } catch {
        return false;
      }
    }, 'must be an absolute http(s) URL without query or fragment'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  DATABASE_URL: z.string().min(1).optional(),
  REDIS_URL: z.string().min(1).optional(),
  REDIS_KEY_PREFIX: z.string().min(1).default('stepup:'),
  COOKIE_KEYS: z
    .string()
    .optional()
    .refine(
      (v) => v === undefined || v.split(',').every((k) => k.trim().length >= MIN_COOKIE_KEY_LENGTH),
      `every comma-separated key must be at least ${MIN_COOKIE_KEY_LENGTH} characters`,
    ),
  ENCRYPTION_KEY: z
    .string()
    .optional()
    .refine((v) => v === undefined || /^[0-9a-fA-F]{64}$/.test(v), 'must be 64 hex characters (openssl rand -hex 32)'),
  POLICY_FILE: z.string().min(1).optional(),
  SMTP_URL: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: z
    .enum(['true', 'false', '1', '0', ''])
    .optional()
    .transform((v) => v === 'true' || v === '1'),
  DATA_DIR: z.string().min(1).default('./data'),
  RESOURCE_SIGNING_ALGS: z
    .string()
    .optional()
    .superRefine((v, ctx) => {
      const { problem } = parseResourceSigningAlgs(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
});

export interface Config {
  production: boolean;
  issuer: string;
  port: number;
  /** undefined: embedded Postgres (PGlite) under dataDir */
  databaseUrl?: string;
  /** undefined: in-process store (single instance only) */
  redisUrl?: string;
  redisKeyPrefix: string;
  cookieKeys: string[];
  encryptionKey: Buffer;
  policyFile?: string;
  smtpUrl?: string;
  logLevel: string;
  trustProxy: boolean;
  dataDir: string;
  /** JWT access token signature per resource; RS256 for those not listed */
  resourceSigningAlgs: ResourceSigningAlgs;
  /** secrets were generated for development and stored under dataDir */
  generatedSecrets: boolean;
}

interface DevSecrets {
  cookieKeys: string[];
  encryptionKey: string;
}

/** Development only: secrets generated on first start and kept in DATA_DIR/dev-secrets.json (mode 0600). */
function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const file = join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
    if (Array.isArray(parsed.cookieKeys) && typeof parsed.encryptionKey === 'string') return parsed;
  }
  mkdirSync(dataDir, { recursive: true });
  const secrets: DevSecrets = {
    cookieKeys: [randomBytes(32).toString('base64url')],
    encryptionKey: randomBytes(32).toString('hex'),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const production = env.NODE_ENV === 'production';
  if (production) {
    const missing = PRODUCTION_REQUIRED.filter((name) => !env[name]);
    if (missing.length > 0) {
      throw new ConfigError(`NODE_ENV=production requires ${missing.join(", ")} to be set`);
    }
  }
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const messages = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${messages.join('; ')}`);
  }
  const e = result.data;
  const dataDir = resolve(e.DATA_DIR);
  const needsGenerated = !e.COOKIE_KEYS || !e.ENCRYPTION_KEY;
  const dev = needsGenerated ? loadOrCreateDevSecrets(dataDir) : undefined;
  return Object.freeze({
    production,
    issuer: (e.ISSUER ?? `http://localhost:${e.PORT}`).replace(/\/$/, ''),
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    cookieKeys: e.COOKIE_KEYS ? e.COOKIE_KEYS.split(',').map((k) => k.trim()) : dev!.cookieKeys,
    encryptionKey: Buffer.from(e.ENCRYPTION_KEY ?? dev!.encryptionKey, 'hex'),
    policyFile: e.POLICY_FILE,
    smtpUrl: e.SMTP_URL,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    dataDir,
    resourceSigningAlgs: parseResourceSigningAlgs(e.RESOURCE_SIGNING_ALGS).algs!,
    generatedSecrets: needsGenerated,
  });
}
