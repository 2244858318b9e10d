import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { REDACTED_PATHS } from '../src/ops/logger.js';
import { adminApiToken, api } from './support/admin.js';
import { Browser } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createConfidentialClient, createUser, discover, startAuthorization } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/**
 * Issue #17 item 2, without SMTP_URL: each notification is a structured log line (kind, account, when,
 * from where), never with a secret. The lockout and the disabled account are notified (they were not
 * before issue #17).
 */
const iso = newIsolation();
let server: RunningServer;
const lines: string[] = [];
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0';

beforeAll(async () => {
  const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
  server = await startServer(iso, {}, { logger: pino({ level: 'info', redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { service: 'stepup' } }, sink) });
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

const notifications = (accountId: string) =>
  lines
    .map((l) => JSON.parse(l) as { msg: string; notification?: Record<string, unknown> })
    .filter((l) => l.notification?.accountId === accountId);

describe('notifications as log lines (no SMTP_URL)', () => {
  it('a run of wrong passwords locks the account once and tells the person once, with the browser and network', async () => {
    const user = await createUser(server.app);
    const rp = await createConfidentialClient(server.app);
    const config = await discover(server.issuer, rp.clientId, rp.clientSecret);
    const browser = new Browser(server.issuer, { 'user-agent': FIREFOX });
    let page = await browser.follow((await startAuthorization(config)).url.toString());
    const wrong = 'not the password at all';
    for (let i = 0; i < 8; i++) page = await browser.submit(page, '/password', { email: user.email, password: wrong });
    expect(page.status).toBe(429);

    const seen = notifications(user.id);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.msg).toBe('user notification: Sign-in to your account was paused after failed attempts');
    expect(seen[0]!.notification).toMatchObject({ kind: 'lockout', factor: 'password', ip: '127.0.0.1', device: 'Firefox 120 on Linux' });
    expect(Number(seen[0]!.notification!.lockedForSeconds)).toBeGreaterThan(0);
    expect(JSON.stringify(seen)).not.toContain(wrong);
  });

  it('an administrator disabling the account tells the person; enabling it again does not', async () => {
    const user = await createUser(server.app);
    const { token } = await adminApiToken(server.app, server.issuer);
    expect((await api(server.issuer, token, 'POST', `/users/${user.id}/disable`, { reason: 'compromised laptop' })).status).toBe(200);
    expect((await api(server.issuer, token, 'POST', `/users/${user.id}/enable`)).status).toBe(200);
    // written once the transaction committed
    for (let i = 0; i < 50 && notifications(user.id).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const seen = notifications(user.id);
    expect(seen.map((l) => l.notification!.kind)).toEqual(['account_disabled']);
    // the admin's free-text reason is theirs, not the person's
    expect(JSON.stringify(seen)).not.toContain('compromised laptop');
  });
});
