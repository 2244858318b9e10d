import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { REDACTED_PATHS } from '../src/ops/logger.js';
import { adminSignIn, createAccountWithTotp } from './support/admin.js';
import { Browser, decodeEntities } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createConfidentialClient } from './support/rp.js';
import { startServer, type RunningServer } from './support/server.js';

/** Issue #15 item 3: one styled page for 404 and every error, each with a way on; the reference finds the error in the log. */
const iso = newIsolation();
let server: RunningServer;
const lines: string[] = [];

beforeAll(async () => {
  const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
  server = await startServer(iso, {}, { logger: pino({ level: 'info', redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { service: 'stepup' } }, sink) });
});
afterAll(async () => {
  await server?.close();
  await dropIsolation(iso);
});

const logged = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
const referenceOf = (html: string) => /<code data-reference>([^<]+)<\/code>/.exec(html)?.[1];

describe('error pages', () => {
  it('a 404 is the styled page with a title, lang, a main landmark and a way on; JSON callers get a problem', async () => {
    const page = await new Browser(server.issuer).request('/no/such/page');
    expect(page.status).toBe(404);
    expect(page.html).toContain('<html lang="en">');
    expect(page.html).toContain('<title>Page not found · stepup</title>');
    expect(page.html).toMatch(/<main[ >]/);
    expect(page.html).toContain('href="/account" data-way="account"');
    expect(page.html).toContain('data-way="back"');
    const json = await fetch(`${server.issuer}/no/such/page`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(404);
    expect(json.headers.get('content-type')).toContain('application/problem+json');
  });

  it('a refused redirect_uri: the page offers the way back to the registered app, and its reference finds the OIDC error in the log', async () => {
    const rp = await createConfidentialClient(server.app, { clientName: 'Payroll', redirectUris: ['https://payroll.example.com/cb'] });
    const refused = 'https://evil.example.net/steal';
    const query = new URLSearchParams({ client_id: rp.clientId, response_type: 'code', scope: 'openid', redirect_uri: refused, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
    const page = await new Browser(server.issuer).request(`/auth?${query}`);
    expect(page.status).toBe(400);
    expect(page.html).toContain('invalid_redirect_uri');
    expect(page.html).toContain('href="https://payroll.example.com/" data-way="back">Back to Payroll</a> to sign in again');
    expect(page.html).not.toContain('evil.example.net');
    const reference = referenceOf(page.html)!;
    expect(reference).toBeTruthy();
    const line = logged().find((l) => l.requestId === reference && l.msg === 'protocol error shown');
    expect(line).toMatchObject({ oidc: { error: 'invalid_redirect_uri', client_id: rp.clientId, redirect_uri: refused } });
    expect(String((line!.oidc as { error_description?: string }).error_description)).toMatch(/redirect_uri/);
  });

  it('an unknown client: the reference finds invalid_client and the client id the request named', async () => {
    const page = await new Browser(server.issuer).request('/auth?client_id=nobody-knows&response_type=code&scope=openid&redirect_uri=https://x.example/cb');
    expect(page.status).toBe(400);
    const line = logged().find((l) => l.requestId === referenceOf(page.html) && l.msg === 'protocol error shown');
    expect(line).toMatchObject({ oidc: { error: 'invalid_client', client_id: 'nobody-knows' } });
    expect(page.html).toContain('data-way="account"');
  });

  it('"Not allowed" on the admin pages offers sign out and sign in as someone else; "Signed out" offers sign in again', async () => {
    const user = await createAccountWithTotp(server.app, { admin: false });
    const browser = new Browser(server.issuer);
    const refused = await adminSignIn(browser, user);
    expect(refused.status).toBe(403);
    expect(refused.html).toContain(`${user.email} is not one`);
    const signOut = decodeEntities(/href="([^"]+)" data-way="sign-out"/.exec(refused.html)![1]!);
    expect(signOut).toMatch(/^\/session\/end\?client_id=stepup-admin&post_logout_redirect_uri=/);
    expect(refused.html).toContain('data-way="switch"');
    const confirm = await browser.follow(signOut);
    const done = await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    expect(done.url).toBe(`${server.issuer}/admin/signed-out`);
    expect(done.html).toContain('href="/admin" data-way="sign-in"');
  });
});
