/// <reference lib="dom" />
import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';

/**
 * Issue #15: every people-facing and admin page state a browser test visits is checked with axe-core
 * (WCAG 2.0/2.1 A and AA rules) at a desktop size and at a phone's 390×844, in light and dark colour
 * schemes (the stylesheet follows `prefers-color-scheme`), and must fit the phone without horizontal
 * scrolling. A serious or critical violation fails the test with a readable list; moderate and minor
 * findings are not failures (the issue's bar) unless A11Y_IMPACTS names them.
 *
 * Call it once the page shows the state to check (wait on its `data-step` marker or a heading first):
 *
 *     await page.locator('main[data-step="totp"]').waitFor();
 *     await expectAccessible(page, 'TOTP step');
 */
export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
/** A11Y_IMPACTS=minor,moderate,serious,critical widens what fails (to review the lesser findings by hand). */
const FAILING = new Set((process.env.A11Y_IMPACTS ?? 'serious,critical').split(',').map((s) => s.trim()));

export interface Layout {
  name: string;
  viewport: { width: number; height: number };
  colorScheme: 'light' | 'dark';
}

/** Desktop in light, the phone in light and in dark: each layout and each scheme seen once at least. */
export const LAYOUTS: readonly Layout[] = [
  { name: 'desktop', viewport: DESKTOP, colorScheme: 'light' },
  { name: 'phone', viewport: PHONE, colorScheme: 'light' },
  { name: 'phone, dark', viewport: PHONE, colorScheme: 'dark' },
];

/** The serious and critical axe violations of the page as it is now, one readable line per element. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  const lines: string[] = [];
  for (const v of results.violations) {
    if (!FAILING.has(v.impact ?? '')) continue;
    for (const node of v.nodes) {
      const why = node.failureSummary?.split('\n').slice(1).join(' ').trim();
      lines.push(`${v.id} (${v.impact}): ${v.help} — ${node.target.join(' ')} ${node.html.slice(0, 160)}${why ? ` — ${why}` : ''}`);
    }
  }
  return lines;
}

/** How far the page is wider than the window (0: no horizontal scroll), and the widest elements when it is. */
export async function horizontalOverflow(page: Page): Promise<{ by: number; culprits: string[] }> {
  return page.evaluate(() => {
    const by = document.documentElement.scrollWidth - window.innerWidth;
    if (by <= 0) return { by: 0, culprits: [] };
    const culprits = Array.from(document.querySelectorAll('body *'))
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
      .slice(0, 5)
      .map((e) => `<${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className ? `.${String(e.className).replace(/\s+/g, '.')}` : ''}> right edge ${Math.round(e.getBoundingClientRect().right)}px`);
    return { by, culprits };
  });
}

/**
 * Checks the page state now shown in every layout of `layouts` (default: LAYOUTS) and puts the page
 * back to the size and scheme it had. Throws one error listing every problem found, by layout.
 */
export async function expectAccessible(page: Page, label: string, layouts: readonly Layout[] = LAYOUTS): Promise<void> {
  const before = page.viewportSize();
  const problems: string[] = [];
  try {
    for (const layout of layouts) {
      await page.setViewportSize(layout.viewport);
      await page.emulateMedia({ colorScheme: layout.colorScheme });
      for (const line of await seriousViolations(page)) problems.push(`[${layout.name}] ${line}`);
      const overflow = await horizontalOverflow(page);
      if (overflow.by > 0) problems.push(`[${layout.name}] scrolls sideways by ${overflow.by}px at ${layout.viewport.width}px wide: ${overflow.culprits.join(', ')}`);
    }
  } finally {
    if (before) await page.setViewportSize(before);
    await page.emulateMedia({ colorScheme: null });
  }
  if (problems.length > 0) {
    throw new Error(`accessibility: ${label} (${page.url()}) has ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  }
}
