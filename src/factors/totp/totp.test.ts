import { describe, expect, it } from '@jest/globals';
import { matchTotpStep, newTotpSecret, totpCodeAt, totpQrDataUrl, totpUri, TOTP_PERIOD_SECONDS } from './totp.js';

const secret = newTotpSecret();
const now = 1_800_000_015; // 15 s into a step

describe('TOTP (RFC 6238, SPEC §3)', () => {
  it('accepts the current code and reports its step', async () => {
    const code = await totpCodeAt(secret, now);
    expect(await matchTotpStep(secret, code, now)).toBe(Math.floor(now / TOTP_PERIOD_SECONDS));
  });

  it.each([
    ['one step behind', -30, true],
    ['one step ahead', 30, true],
    ['two steps behind', -60, false],
    ['two steps ahead', 60, false],
  ])('drift: a code from %s (%d s) is accepted: %s', async (_label, shift, accepted) => {
    const code = await totpCodeAt(secret, now + shift);
    expect((await matchTotpStep(secret, code, now)) !== undefined).toBe(accepted);
  });

  it('refuses a step at or before the last used one (replay)', async () => {
    const code = await totpCodeAt(secret, now);
    const step = Math.floor(now / TOTP_PERIOD_SECONDS);
    expect(await matchTotpStep(secret, code, now, step)).toBeUndefined();
    expect(await matchTotpStep(secret, code, now, step - 1)).toBe(step);
  });

  it.each(['', '12345', '1234567', 'abcdef', '12 34 5x'])('refuses malformed code %j', async (code) => {
    expect(await matchTotpStep(secret, code, now)).toBeUndefined();
  });

  it('builds an otpauth URI and a QR code image', async () => {
    const uri = totpUri(secret, 'stepup', 'alice@example.com');
    expect(uri).toMatch(/^otpauth:\/\/totp\//);
    expect(uri).toContain(`secret=${secret}`);
    expect(await totpQrDataUrl(uri)).toMatch(/^data:image\/svg\+xml;base64,/);
  });
});
