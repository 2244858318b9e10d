import { describe, expect, it } from '@jest/globals';
import { MAX_PASSWORD_LENGTH, passwordPolicyError } from './password.js';

/** NIST SP 800-63B rev 4 §3.1.1.2 (issue #15): length and a common-passwords list, never composition rules. */
describe('new password policy', () => {
  it.each([
    ['short', 'at least 8'],
    ['password', 'most common'],
    ['PassWord1', 'most common'],
    ['Tr0ub4dor&3x', undefined],
    ['baseball', 'most common'],
    ['BASEBALL', 'most common'],
    ['qwertyuiop', 'most common'],
    ['correct horse battery staple', undefined],
    ['alllowercaseletters', undefined], // no composition rules
  ])('%s → %s', (password, problem) => {
    const error = passwordPolicyError(password);
    if (problem) expect(error).toContain(problem);
    else expect(error).toBeUndefined();
  });

  it('allows at least 64 characters, and any characters', () => {
    expect(MAX_PASSWORD_LENGTH).toBeGreaterThanOrEqual(64);
    expect(passwordPolicyError('ü'.repeat(64))).toBeUndefined();
    expect(passwordPolicyError('x'.repeat(MAX_PASSWORD_LENGTH + 1))).toContain('at most');
  });
});
