import { generate, generateSecret, generateURI, verify } from 'otplib';

/**
 * TOTP (RFC 6238) as SPEC §3 fixes it: SHA-1, 6 digits, 30-second steps, ±1 step of clock drift.
 * Pure functions over a secret and a clock; replay protection (one acceptance per time step) is the
 * caller's compare-and-set on the stored last step, passed in here as `lastUsedStep`.
 */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
const DRIFT_SECONDS = TOTP_PERIOD_SECONDS; // ±1 step

export function newTotpSecret(): string {
  return generateSecret(); // base32, 20 random bytes (160 bits, RFC 4226 §4 recommendation)
}

export function totpUri(secret: string, issuer: string, accountName: string): string {
  return generateURI({ secret, issuer, label: accountName, algorithm: 'sha1', digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS });
}

/** The enrollment QR code, rendered server-side as an SVG data URL (no script, allowed by the CSP's img-src data:). */
export async function totpQrDataUrl(uri: string): Promise<string> {
  // loaded at the first enrollment, not at start (issue #6: idle RSS)
  const { default: QRCode } = await import('qrcode');
  const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

/** Groups the base32 key in fours for manual entry. */
export const formatManualKey = (secret: string) => secret.replace(/(.{4})/g, '$1 ').trim();

export const looksLikeTotpCode = (code: string) => /^\d{6}$/.test(code);

/**
 * Returns the matched time step, or undefined. Steps at or before `lastUsedStep` are refused here
 * already; the caller's atomic store update is what makes acceptance single-use under concurrency.
 */
export async function matchTotpStep(secret: string, code: string, now: number, lastUsedStep?: number | null): Promise<number | undefined> {
  const token = code.replace(/\s/g, '');
  if (!looksLikeTotpCode(token)) return undefined;
  const result = await verify({
    secret,
    token,
    epoch: now,
    period: TOTP_PERIOD_SECONDS,
    digits: TOTP_DIGITS,
    algorithm: 'sha1',
    epochTolerance: DRIFT_SECONDS,
    ...(lastUsedStep != null ? { afterTimeStep: lastUsedStep } : {}),
  });
  if (!result.valid) return undefined;
  const step = (result as { timeStep?: number }).timeStep;
  return typeof step === 'number' ? step : Math.floor(now / TOTP_PERIOD_SECONDS) + ((result as { delta?: number }).delta ?? 0);
}

/** For tests and the admin import check: the code for a given moment. */
export function totpCodeAt(secret: string, epoch: number): Promise<string> {
  return generate({ secret, epoch, period: TOTP_PERIOD_SECONDS, digits: TOTP_DIGITS, algorithm: 'sha1' });
}
