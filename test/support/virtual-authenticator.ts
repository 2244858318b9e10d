import type { Browser as Chromium, BrowserContext, CDPSession, Page } from 'playwright-core';

/**
 * A Chromium page with a WebAuthn authenticator of the DevTools Protocol (WebAuthn.enable,
 * WebAuthn.addVirtualAuthenticator): resident keys, user verification and backup eligibility as given.
 * CSP violations on the page are collected.
 */
export interface VirtualAuthenticator {
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  authenticatorId: string;
  violations: string[];
}

export async function withAuthenticator(
  chromium: Chromium,
  options: { backupEligible: boolean; userVerification?: boolean; transport?: 'internal' | 'usb' },
): Promise<VirtualAuthenticator> {
  const context = await chromium.newContext();
  const page = await context.newPage();
  // a step that does not happen fails with its own message well inside the test's timeout
  page.setDefaultTimeout(10_000);
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const uv = options.userVerification ?? true;
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: options.transport ?? 'internal',
      hasResidentKey: true,
      hasUserVerification: uv,
      isUserVerified: uv,
      automaticPresenceSimulation: true,
      defaultBackupEligibility: options.backupEligible,
      defaultBackupState: options.backupEligible,
    },
  });
  return { context, page, cdp, authenticatorId, violations };
}
