/**
 * acr, amr and auth_time in plain words, for the token panel on every page. Pure: `now` is an argument.
 */
const LEVEL_WORDS: Record<string, string> = {
  aal1: 'one factor (a password or a passkey)',
  aal2: 'two factors',
  phr: 'phishing-resistant (a passkey or a security key)',
  phrh: 'phishing-resistant with a device-bound key',
};

// RFC 8176 values as stepup issues them (SPEC §2.9); `user` and `mfa` qualify the others
const METHOD_WORDS: Record<string, string> = {
  pwd: 'password',
  otp: 'one-time code',
  hwk: 'device-bound key',
  swk: 'synced passkey',
};

export const levelInWords = (acr: unknown) => (typeof acr === 'string' ? (LEVEL_WORDS[acr] ?? `unknown level ${acr}`) : 'no level');

export function ago(seconds: number): string {
  if (seconds < 10) return 'just now';
  if (seconds < 60) return `${seconds} seconds ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return minutes === 1 ? '1 minute ago' : `${minutes} minutes ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return hours === 1 ? '1 hour ago' : `${hours} hours ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

/** e.g. "signed in with password and one-time code, 2 minutes ago" */
export function signInInWords(amr: unknown, authTime: unknown, now: number): string {
  const methods = (Array.isArray(amr) ? amr : []).map((m) => METHOD_WORDS[m as string]).filter((m): m is string => Boolean(m));
  const how = methods.length === 0 ? 'signed in' : `signed in with ${methods.length === 1 ? methods[0] : `${methods.slice(0, -1).join(', ')} and ${methods.at(-1)}`}`;
  return typeof authTime === 'number' ? `${how}, ${ago(Math.max(0, now - authTime))}` : how;
}

export interface TokenSummary {
  acr: string;
  amr: string;
  authTime: string;
  level: string;
  sentence: string;
}

export function summarize(claims: Record<string, unknown> | undefined, now: number): TokenSummary | undefined {
  if (!claims) return undefined;
  return {
    acr: typeof claims.acr === 'string' ? claims.acr : '(none)',
    amr: Array.isArray(claims.amr) ? claims.amr.join(' ') : '(none)',
    authTime: typeof claims.auth_time === 'number' ? `${claims.auth_time} (${new Date(claims.auth_time * 1000).toISOString().replace('.000', '')})` : '(none)',
    level: levelInWords(claims.acr),
    sentence: signInInWords(claims.amr, claims.auth_time, now),
  };
}
