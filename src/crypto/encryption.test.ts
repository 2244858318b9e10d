import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { createSealer } from './encryption.js';

describe('secrets at rest (AES-256-GCM)', () => {
  const sealer = createSealer(randomBytes(32));

  it('round-trips and never contains the plaintext', () => {
    const sealed = sealer.seal('JBSWY3DPEHPK3PXP', 'totp_secret:1');
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(sealer.open(sealed, 'totp_secret:1')).toBe('JBSWY3DPEHPK3PXP');
  });

  it('uses a fresh nonce each time', () => {
    expect(sealer.seal('x')).not.toBe(sealer.seal('x'));
  });

  it('refuses a ciphertext moved to another row (context bound as AAD)', () => {
    const sealed = sealer.seal('secret', 'totp_secret:1');
    expect(() => sealer.open(sealed, 'totp_secret:2')).toThrow();
  });

  it('refuses a tampered ciphertext and another key', () => {
    const sealed = sealer.seal('secret');
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[3]!, 'base64url');
    ct[0] = ct[0]! ^ 1;
    parts[3] = ct.toString('base64url');
    expect(() => sealer.open(parts.join('.'))).toThrow();
    expect(() => createSealer(randomBytes(32)).open(sealed)).toThrow();
  });

  it('requires a 32-byte key', () => {
    expect(() => createSealer(randomBytes(16))).toThrow();
  });
});
