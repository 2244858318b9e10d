import { describe, expect, it } from '@jest/globals';
import { ago, levelInWords, signInInWords } from './words.js';
import { isValidIban, normalizeIban } from './iban.js';

describe('tokens in plain words', () => {
  it.each([
    [['pwd'], 'signed in with password'],
    [['pwd', 'otp', 'mfa'], 'signed in with password and one-time code'],
    [['hwk', 'user', 'mfa'], 'signed in with device-bound key'],
    [['pwd', 'otp', 'swk', 'user', 'mfa'], 'signed in with password, one-time code and synced passkey'],
    [undefined, 'signed in'],
  ])('amr %j → %s', (amr, words) => {
    expect(signInInWords(amr, undefined, 0)).toBe(words);
  });

  it('says when, relative to now', () => {
    expect(signInInWords(['pwd', 'otp'], 1000, 1125)).toBe('signed in with password and one-time code, 2 minutes ago');
    expect([ago(3), ago(45), ago(60), ago(3600 * 5), ago(86400 * 3)]).toEqual(['just now', '45 seconds ago', '1 minute ago', '5 hours ago', '3 days ago']);
  });

  it('names the levels', () => {
    expect(levelInWords('aal2')).toBe('two factors');
    expect(levelInWords('phr')).toBe('phishing-resistant (a passkey or a security key)');
    expect(levelInWords(undefined)).toBe('no level');
  });
});

describe('IBAN check digits', () => {
  it('accepts a valid IBAN in any spacing and refuses a wrong check digit', () => {
    expect(normalizeIban('gb82west12345698765432')).toBe('GB82 WEST 1234 5698 7654 32');
    expect(isValidIban(normalizeIban('GB82 WEST 1234 5698 7654 32'))).toBe(true);
    expect(isValidIban(normalizeIban('GB83 WEST 1234 5698 7654 32'))).toBe(false);
    expect(isValidIban('not an iban')).toBe(false);
  });
});
