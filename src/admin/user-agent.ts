import Bowser from 'bowser';

/** "Chrome 156 on Linux" for a User-Agent header (issue #15: a readable session list and audit page). */
export function describeUserAgent(userAgent: string | undefined): string {
  if (!userAgent) return 'unknown browser';
  const parsed = Bowser.parse(userAgent);
  const major = (v: string | undefined) => (v ? v.split('.')[0] : '');
  const browser = [parsed.browser.name, major(parsed.browser.version)].filter(Boolean).join(' ');
  const os = [parsed.os.name, parsed.os.versionName ?? major(parsed.os.version)].filter(Boolean).join(' ');
  if (!browser && !os) return userAgent.length > 60 ? `${userAgent.slice(0, 60)}…` : userAgent;
  return os ? `${browser || 'a browser'} on ${os}` : browser;
}
