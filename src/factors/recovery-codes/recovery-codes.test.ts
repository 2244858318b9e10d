import { describe, expect, it } from '@jest/globals';
import { hashRecoveryCode, looksLikeRecoveryCode, newRecoveryCodes, normalizeRecoveryCode, RECOVERY_CODE_COUNT } from './recovery-codes.js';

describe('recovery codes (SPEC §3)', () => {
  it('makes 10 distinct readable codes of 80 bits', () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT);
    expect(new Set(codes).size).toBe(RECOVERY_CODE_COUNT);
    for (const c of codes) {
      expect(c).toMatch(/^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);
      expect(looksLikeRecoveryCode(normalizeRecoveryCode(c))).toBe(true);
    }
  });

  it('maps look-alike characters people type (o → 0, i/l → 1)', () => {
    expect(normalizeRecoveryCode('O1IL-abcd')).toBe(normalizeRecoveryCode('0111abcd'));
  });

  it('hashes the normalized code, so spacing and case do not matter', () => {
    const [code] = newRecoveryCodes();
    expect(hashRecoveryCode(code!.toUpperCase().replace(/-/g, ' '))).toBe(hashRecoveryCode(code!));
    expect(hashRecoveryCode(code!)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRecoveryCode(code!)).not.toContain(normalizeRecoveryCode(code!));
  });

  it.each(['', 'short', 'abcd-efgh-jkmn-pqru', 'x'.repeat(40)])('rejects %j as malformed', (c) => {
    expect(looksLikeRecoveryCode(normalizeRecoveryCode(c))).toBe(false);
  });
});
