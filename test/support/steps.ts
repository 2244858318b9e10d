import { totpCodeAt } from '../../src/factors/totp/totp.js';
import type { Browser, Page } from './browser.js';

/**
 * Step pages carry a stable marker, `<main data-step="…">` (issue #13), so tests find a page by what it
 * is, never by its wording: login, password, totp, webauthn, recovery_code, enroll_choice, enroll_totp,
 * enroll_webauthn, recovery_codes, recovery_code_accepted.
 */
export function stepOf(page: Page): string | undefined {
  return /<main\b[^>]*\bdata-step="([^"]+)"/.exec(page.html)?.[1];
}

/** The reason sentence a step page shows (data-reason). */
export function reasonOf(page: Page): string | undefined {
  return /<p\b[^>]*data-reason[^>]*>([^<]*)<\/p>/.exec(page.html)?.[1];
}

/** From the enrollment choice (or a direct TOTP enrollment) page: sets up an authenticator app with a valid code. */
export async function enrollTotpInStepUp(browser: Browser, page: Page, now: number): Promise<{ page: Page; secret: string }> {
  const enrollPage = stepOf(page) === 'enroll_choice' ? await browser.submit(page, `/interaction/${uidOf(page)}`, { enroll: 'totp' }) : page;
  if (stepOf(enrollPage) !== 'enroll_totp') throw new Error(`expected the authenticator app enrollment, got ${stepOf(enrollPage)}:\n${enrollPage.html.slice(0, 1500)}`);
  const secret = /<code id="manual-key">([^<]+)<\/code>/.exec(enrollPage.html)![1]!.replace(/\s/g, '');
  return { page: await browser.submit(enrollPage, '/enroll/totp', { code: await totpCodeAt(secret, now) }), secret };
}

export function uidOf(page: Page): string {
  const uid = /\/interaction\/([A-Za-z0-9_-]+)/.exec(page.html)?.[1] ?? /\/interaction\/([A-Za-z0-9_-]+)/.exec(page.url)?.[1];
  if (!uid) throw new Error('no interaction on this page');
  return uid;
}
