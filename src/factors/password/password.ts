import { availableParallelism } from 'node:os';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { isCommonPassword } from './common-passwords.js';
import { createConcurrencyLimit } from './concurrency-limit.js';

/**
 * Password factor (SPEC §3): argon2id with one of OWASP's five recommended configurations (Password
 * Storage Cheat Sheet), m=7 MiB, t=5, p=1. OWASP states the five "provide an equal level of defense"
 * and differ only in their CPU/RAM trade-off. Issue #6 measured them here: this one costs about 6.4 ms
 * of CPU per verification against 12.1 ms for m=19 MiB, t=2 (its 7 MiB stay in cache), and a flood of
 * sign-ins holds 7 MiB per hash in flight instead of 19. Hashes are PHC strings carrying their own
 * parameters, so hashes stored with other parameters (m=19 MiB, t=2 before) still verify.
 */
// algorithm 2 = Argon2id (@node-rs/argon2 exports it as a const enum, which isolatedModules cannot inline)
const ARGON2ID_OPTIONS = { algorithm: 2, memoryCost: 7_168, timeCost: 5, parallelism: 1 } as const;

/**
 * Issue #6: argon2 runs on libuv's thread pool (UV_THREADPOOL_SIZE, 4 by default), the same pool that
 * signs tokens (WebCrypto), reads files and resolves names. Unbounded, a flood of sign-ins fills the
 * whole pool with memory-hard hashes and every token response waits behind them. At most one hash per core,
 * leaving at least one pool thread free; the rest queue in arrival order.
 */
const THREAD_POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE) || 4;
export const ARGON2_MAX_CONCURRENT = Math.max(1, Math.min(availableParallelism(), THREAD_POOL_SIZE - 1));
export const argon2Limit = createConcurrencyLimit(ARGON2_MAX_CONCURRENT);
const hash: typeof argon2Hash = (password, options) => argon2Limit.run(() => argon2Hash(password, options));
const verify: typeof argon2Verify = (hashed, password, options) => argon2Limit.run(() => argon2Verify(hashed, password, options));

export const MIN_PASSWORD_LENGTH = 8; // NIST SP 800-63B rev 4 §3.1.1.2: at least 8 when used with a second factor
export const MAX_PASSWORD_LENGTH = 256; // bounds hashing work on hostile input

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2ID_OPTIONS);
}

/**
 * NIST SP 800-63B rev 4 §3.1.1.2 for a new password: at least 8 characters, at most 256 (well above
 * the 64 NIST asks to allow), not on the common-passwords list, and no composition rules.
 */
export function passwordPolicyError(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `password must be at most ${MAX_PASSWORD_LENGTH} characters`;
  if (isCommonPassword(password)) return 'password is one of the most common passwords: choose another';
  return undefined;
}

let dummyHash: Promise<string> | undefined;

/**
 * Verifies a password. With no stored hash (unknown or password-less account) it still runs one
 * argon2 verification against a dummy hash, so the response time does not reveal whether the
 * account exists (SPEC §3).
 */
export async function verifyPassword(storedHash: string | null | undefined, candidate: string): Promise<boolean> {
  if (candidate.length === 0 || candidate.length > MAX_PASSWORD_LENGTH) {
    await verify(await (dummyHash ??= hashPassword('stepup-dummy-password')), 'x').catch(() => false);
    return false;
  }
  if (!storedHash) {
    await verify(await (dummyHash ??= hashPassword('stepup-dummy-password')), candidate).catch(() => false);
    return false;
  }
  try {
    return await verify(storedHash, candidate);
  } catch {
    return false;
  }
}
