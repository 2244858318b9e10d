import { randomBytes, randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import knexFactory from 'knex';
import { loadConfig, type Config } from '../../src/config/env.js';

/** Every test run gets its own Postgres schema and Redis key prefix, so runs (and files) never collide. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Isolation {
  schema: string;
  redisPrefix: string;
  cookieKeys: string;
  encryptionKey: string;
}

export function newIsolation(): Isolation {
  const id = randomUUID().replace(/-/g, '').slice(0, 16);
  return {
    schema: `stepup_test_${id}`,
    redisPrefix: `stepup-test:${id}:`,
    cookieKeys: randomBytes(32).toString('base64url'),
    encryptionKey: randomBytes(32).toString('hex'),
  };
}

/**
 * Issue #16: tests run with the risk signals off (the default levels, every signal disabled), so a test
 * that does not opt in is not asked for a second factor because its browser is new. Production gets the
 * signals on (the README's default). A test opts in with its own POLICY_FILE; one that writes its own
 * file for another reason adds `risk: RISK_SIGNALS_OFF` to keep them off.
 */
export const SIGNALS_OFF_POLICY_FILE = join(dirname(fileURLToPath(import.meta.url)), 'policy-signals-off.json');
/** The policy production gets without a POLICY_FILE (the default levels, every signal on): for tests that measure production. */
export const PRODUCTION_POLICY_FILE = join(dirname(fileURLToPath(import.meta.url)), 'policy-default.json');
export const RISK_SIGNALS_OFF = { newDevice: { enabled: false }, newNetwork: { enabled: false }, recentFailures: { enabled: false } };

/** Environment for a server process or an in-process app using the real Postgres and Redis. */
export function testEnv(iso: Isolation, issuer: string, extra: Record<string, string> = {}): Record<string, string> {
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${iso.schema}`);
  return {
    ISSUER: issuer,
    DATABASE_URL: url.toString(),
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: iso.redisPrefix,
    COOKIE_KEYS: iso.cookieKeys,
    ENCRYPTION_KEY: iso.encryptionKey,
    LOG_LEVEL: 'silent',
    // many servers start side by side (and other runs on the same machine): each management listener on a free port
    MANAGEMENT_PORT: '0',
    DATA_DIR: `/tmp/stepup-test-data-${iso.schema}`,
    POLICY_FILE: SIGNALS_OFF_POLICY_FILE,
    ...extra,
  };
}

export function testConfig(iso: Isolation, issuer: string, extra: Record<string, string> = {}): Config {
  return loadConfig(testEnv(iso, issuer, extra));
}

/** For server and CLI processes that get the schema through DATABASE_URL's search_path: it must exist first. */
export async function createIsolationSchema(iso: Isolation): Promise<void> {
  const db = knexFactory({ client: 'pg', connection: TEST_DATABASE_URL, pool: { min: 0, max: 1 } });
  try {
    await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [iso.schema]);
  } finally {
    await db.destroy();
  }
}

export async function dropIsolation(iso: Isolation): Promise<void> {
  const db = knexFactory({ client: 'pg', connection: TEST_DATABASE_URL, pool: { min: 0, max: 1 } });
  try {
    await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [iso.schema]);
  } finally {
    await db.destroy();
  }
  const redis = new Redis(TEST_REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${iso.redisPrefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
