import { chromium, type Browser, type Page } from 'playwright-core';
import { RP_REDIRECT } from './rp.js';

/** Debian's Chromium driven by playwright-core (no browser download); flags per the machine's closed network. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Runs `action` and resolves with the URL of the RP callback it leads to (nothing listens there). */
export async function callbackUrl(page: Page, action: () => Promise<unknown>): Promise<string> {
  const seen = new Promise<string>((resolve) => {
    void page.route(`${RP_REDIRECT}**`, (route) => {
      resolve(route.request().url());
      void route.fulfill({ status: 200, body: 'rp' });
    });
  });
  await action();
  const url = await seen;
  // the callback's navigation finishes before the caller navigates again (else its goto is interrupted)
  await page.waitForURL(`${RP_REDIRECT}**`);
  return url;
}
