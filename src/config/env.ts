import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { isSigningAlgorithm, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../oidc/signing-keys.js';
import type { HostPort, RedisConnection } from '../store/redis/client.js';
import { parseWebhookEvents, webhookSecretProblem, type WebhookEventFilter } from '../webhooks/config.js';

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
/** Any one of these names the Redis a production server needs (REDIS_URL in PRODUCTION_REQUIRED stands for them). */
const REDIS_LOCATIONS = ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const;
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
  // issue #17: the management interface (/metrics, /healthz, /readyz); 0 lets the system choose a free port
  MANAGEMENT_PORT: z.coerce.number().int().min(0).max(65535).default(9000),
  MANAGEMENT_HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z.string().min(1).optional(),
  REDIS_URL: z
    .string()
    .min(1)
    .optional()
    .refine((v) => v === undefined || /^rediss?:\/\//.test(v), 'must be a redis:// or rediss:// (TLS) URL'),
  REDIS_SENTINELS: z.string().min(1).optional().transform((v, ctx) => (v === undefined ? undefined : hostPorts(v, ctx))),
  REDIS_SENTINEL_NAME: z.string().min(1).optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_CLUSTER_NODES: z.string().min(1).optional().transform((v, ctx) => (v === undefined ? undefined : hostPorts(v, ctx))),
  REDIS_TLS: z
    .enum(['true', 'false', '1', '0', ''])
    .optional()
    .transform((v) => v === 'true' || v === '1'),
  REDIS_TLS_CA_FILE: z
    .string()
    .min(1)
    .optional()
    .refine((v) => v === undefined || existsSync(v), 'no such file'),
  // stepup puts the Redis Cluster hash tags ({…}) in its keys itself; a brace in the prefix would move them
  REDIS_KEY_PREFIX: z
    .string()
    .min(1)
    .default('stepup:')
    .refine((v) => !/[{}]/.test(v), 'must not contain { or } (stepup sets the Redis Cluster hash tags itself)'),
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
  SMTP_URL: z
    .string()
    .min(1)
    .optional()
    .refine((v) => v === undefined || /^smtps?:\/\/[^/?#]+/.test(v), 'must be an smtp:// or smtps:// URL (smtp://user:pass@host:587)'),
  // issue #17: the sender of notification mails; default no-reply@<the issuer's host>
  SMTP_FROM: z.string().min(3).max(320).optional().refine((v) => v === undefined || (/@[^@\s>]+>?\s*$/.test(v) && !/[\r\n]/.test(v)), 'must be an email address, optionally with a name: "stepup <no-reply@example.com>"'),
  WEBHOOK_URL: z
    .string()
    .min(1)
    .optional()
    .refine((v) => v === undefined || /^https?:\/\//.test(v), 'must be an http(s) URL'),
  WEBHOOK_SECRET: z
    .string()
    .optional()
    .superRefine((v, ctx) => {
      const problem = v === undefined ? undefined : webhookSecretProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  WEBHOOK_EVENTS: z
    .string()
    .optional()
    .superRefine((v, ctx) => {
      const { problem } = parseWebhookEvents(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  WEBHOOK_ALLOW_PRIVATE: z
    .enum(['true', 'false', '1', '0', ''])
    .optional()
    .transform((v) => v === 'true' || v === '1'),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(10_000),
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

/** `host:port,host:port` (IPv6 as `[::1]:26379`). */
function hostPorts(value: string, ctx: z.RefinementCtx): HostPort[] {
  const out: HostPort[] = [];
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[3]) : 0;
    if (!m || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `"${item}" is not host:port` });
      return [];
    }
    out.push({ host: (m[1] ?? m[2])!, port });
  }
  if (out.length === 0) ctx.addIssue({ code: 'custom', message: 'must list at least one host:port' });
  return out;
}

export interface WebhookConfig {
  url: URL;
  /** `whsec_…`: the Standard Webhooks signing secret */
  secret: string;
  events: WebhookEventFilter;
  /** a target on a private, loopback or link-local address is allowed (tests, an internal SIEM) */
  allowPrivate: boolean;
  timeoutMs: number;
}

export interface Config {
  production: boolean;
  issuer: string;
  port: number;
  /** the management listener (issue #17): internal by default */
  managementPort: number;
  managementHost: string;
  /** undefined: embedded Postgres (PGlite) under dataDir */
  databaseUrl?: string;
  /** nothing set: in-process store (single instance only) */
  redis: RedisConnection;
  redisKeyPrefix: string;
  cookieKeys: string[];
  encryptionKey: Buffer;
  policyFile?: string;
  smtpUrl?: string;
  /** the From of notification mails */
  smtpFrom: string;
  /** issue #17: audit events to a Standard Webhooks receiver */
  webhook?: WebhookConfig;
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
    const missing = PRODUCTION_REQUIRED.filter((name) => (name === 'REDIS_URL' ? !REDIS_LOCATIONS.some((n) => env[n]) : !env[name])).map((name) =>
      name === 'REDIS_URL' ? 'REDIS_URL (or REDIS_SENTINELS or REDIS_CLUSTER_NODES)' : name,
    );
    if (missing.length > 0) {
      throw new ConfigError(`NODE_ENV=production requires ${missing.join(", ")} to be set`);
    }
  }
  const locations = REDIS_LOCATIONS.filter((n) => env[n]);
  if (locations.length > 1) throw new ConfigError(`invalid configuration: set one of ${locations.join(', ')}, not several`);
  if (env.REDIS_SENTINELS && !env.REDIS_SENTINEL_NAME) throw new ConfigError('invalid configuration: REDIS_SENTINELS needs REDIS_SENTINEL_NAME (the master group the sentinels monitor)');
  if (env.WEBHOOK_URL && !env.WEBHOOK_SECRET) throw new ConfigError('invalid configuration: WEBHOOK_URL needs WEBHOOK_SECRET (a Standard Webhooks secret, whsec_…)');
  // SSRF (issue #17): in production a webhook travels over TLS only
  if (production && env.WEBHOOK_URL && !env.WEBHOOK_URL.startsWith('https://')) throw new ConfigError('invalid configuration: WEBHOOK_URL must be an https:// URL with NODE_ENV=production');
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const messages = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${messages.join('; ')}`);
  }
  const e = result.data;
  if (e.MANAGEMENT_PORT !== 0 && e.MANAGEMENT_PORT === e.PORT) throw new ConfigError(`invalid configuration: MANAGEMENT_PORT must differ from PORT (${e.PORT}): /metrics is never served on the public port`);
  const dataDir = resolve(e.DATA_DIR);
  const needsGenerated = !e.COOKIE_KEYS || !e.ENCRYPTION_KEY;
  const dev = needsGenerated ? loadOrCreateDevSecrets(dataDir) : undefined;
  return Object.freeze({
    production,
    issuer: (e.ISSUER ?? `http://localhost:${e.PORT}`).replace(/\/$/, ''),
    port: e.PORT,
    managementPort: e.MANAGEMENT_PORT,
    managementHost: e.MANAGEMENT_HOST,
    databaseUrl: e.DATABASE_URL,
    redis: {
      url: e.REDIS_URL,
      sentinels: e.REDIS_SENTINELS,
      sentinelName: e.REDIS_SENTINEL_NAME,
      sentinelPassword: e.REDIS_SENTINEL_PASSWORD,
      password: e.REDIS_PASSWORD,
      clusterNodes: e.REDIS_CLUSTER_NODES,
      tls: e.REDIS_TLS,
      tlsCaFile: e.REDIS_TLS_CA_FILE,
    },
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    cookieKeys: e.COOKIE_KEYS ? e.COOKIE_KEYS.split(',').map((k) => k.trim()) : dev!.cookieKeys,
    encryptionKey: Buffer.from(e.ENCRYPTION_KEY ?? dev!.encryptionKey, 'hex'),
    policyFile: e.POLICY_FILE,
    smtpUrl: e.SMTP_URL,
    smtpFrom: e.SMTP_FROM ?? `no-reply@${new URL(e.ISSUER ?? 'http://localhost').hostname}`,
    webhook: e.WEBHOOK_URL
      ? {
          url: new URL(e.WEBHOOK_URL),
          secret: e.WEBHOOK_SECRET!,
          events: parseWebhookEvents(e.WEBHOOK_EVENTS).filter!,
          allowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
          timeoutMs: e.WEBHOOK_TIMEOUT_MS,
        }
      : undefined,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    dataDir,
    resourceSigningAlgs: parseResourceSigningAlgs(e.RESOURCE_SIGNING_ALGS).algs!,
    generatedSecrets: needsGenerated,
  });
}
