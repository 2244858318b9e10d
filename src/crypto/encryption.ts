import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Secrets at rest (TOTP secrets, signing keys, client secrets) are sealed with AES-256-GCM under
 * ENCRYPTION_KEY, which lives outside the database (SPEC §6). The optional `context` is bound as
 * additional authenticated data, so a ciphertext copied to another row or column does not decrypt.
 * Format: v1.<iv>.<tag>.<ciphertext>, base64url parts.
 */
export interface Sealer {
  seal(plaintext: string, context?: string): string;
  open(sealed: string, context?: string): string;
}

const VERSION = 'v1';
const IV_BYTES = 12; // NIST SP 800-38D recommended GCM nonce size

export function createSealer(key: Buffer): Sealer {
  if (key.length !== 32) throw new Error('encryption key must be 32 bytes');
  return {
    seal(plaintext, context = '') {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
    },
    open(sealed, context = '') {
      const [version, iv, tag, ct] = sealed.split('.');
      if (version !== VERSION || !iv || !tag || ct === undefined) throw new Error('not a sealed value');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}
