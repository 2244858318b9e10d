import { createHash, randomBytes } from 'node:crypto';

/**
 * Recovery codes (SPEC §3): 10 single-use codes of 80 random bits (≥ 64 required), shown once, stored
 * as SHA-256 digests. A fast hash is enough here: unlike passwords, the codes carry their full entropy.
 */
export const RECOVERY_CODE_COUNT = 10;
const CODE_BYTES = 10; // 80 bits
// Crockford base-32 (32 symbols, no i/l/o/u); look-alikes typed by people are mapped back on input
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

function encode(bytes: Buffer): string {
  // base-32 over a readable alphabet: 16 characters carry 80 bits
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]!;
      bits -= 5;
    }
  }
  return out;
}

/** `abcd-efgh-jkmn-pqrs`: grouped for reading; any spacing or dashes are accepted back. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => encode(randomBytes(CODE_BYTES)).replace(/(.{4})(?!$)/g, '$1-'));
}

export function normalizeRecoveryCode(input: string): string {
  return input.toLowerCase().replace(/[\s-]/g, '').replace(/o/g, '0').replace(/[il]/g, '1');
}

export const looksLikeRecoveryCode = (normalized: string) => normalized.length === 16 && [...normalized].every((c) => ALPHABET.includes(c));

export function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(normalizeRecoveryCode(code)).digest('hex');
}
