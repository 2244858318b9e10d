import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../config/env.js';
import { isPublicAddress, urlProblem } from './target.js';

const good = { COOKIE_KEYS: 'k'.repeat(32), ENCRYPTION_KEY: 'ab'.repeat(32), DATA_DIR: '/tmp/stepup-config-test' };
const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

describe('email and webhook configuration (issue #17)', () => {
  it('reads SMTP_URL, SMTP_FROM (default no-reply@ the issuer host) and the webhook settings', () => {
    expect(loadConfig({ ...good, ISSUER: 'https://id.example.com' }).smtpFrom).toBe('no-reply@id.example.com');
    const c = loadConfig({ ...good, SMTP_URL: 'smtps://u:p@mail.example.com:465', SMTP_FROM: 'stepup <security@example.com>', WEBHOOK_URL: 'https://siem.example.com/hook', WEBHOOK_SECRET: SECRET, WEBHOOK_EVENTS: 'factor.enroll, admin.*' });
    expect(c.smtpFrom).toBe('stepup <security@example.com>');
    expect(c.webhook).toMatchObject({ secret: SECRET, allowPrivate: false, timeoutMs: 10_000 });
    expect(c.webhook!.url.href).toBe('https://siem.example.com/hook');
    expect(c.webhook!.events.accepts('factor.enroll')).toBe(true);
    expect(c.webhook!.events.accepts('admin.user.disable')).toBe(true);
    expect(c.webhook!.events.accepts('login.password')).toBe(false);
    expect(loadConfig({ ...good, WEBHOOK_URL: 'http://127.0.0.1:9/x', WEBHOOK_SECRET: SECRET }).webhook!.events.accepts('login.password')).toBe(true);
  });

  it.each([
    ['SMTP_URL', { SMTP_URL: 'mail.example.com' }, /SMTP_URL: must be an smtp/],
    ['SMTP_FROM', { SMTP_FROM: 'nobody' }, /SMTP_FROM: must be an email address/],
    ['SMTP_FROM (header injection)', { SMTP_FROM: 'a@b.c\r\nBcc: x@y.z' }, /SMTP_FROM/],
    ['WEBHOOK_URL without a secret', { WEBHOOK_URL: 'https://a.example' }, /WEBHOOK_URL needs WEBHOOK_SECRET/],
    ['WEBHOOK_SECRET', { WEBHOOK_URL: 'https://a.example', WEBHOOK_SECRET: 'hunter2' }, /WEBHOOK_SECRET: must be whsec_/],
    ['WEBHOOK_SECRET (short)', { WEBHOOK_URL: 'https://a.example', WEBHOOK_SECRET: `whsec_${Buffer.alloc(8).toString('base64')}` }, /24 to 64 bytes/],
    ['WEBHOOK_EVENTS (typo)', { WEBHOOK_URL: 'https://a.example', WEBHOOK_SECRET: SECRET, WEBHOOK_EVENTS: 'factor.enrol' }, /WEBHOOK_EVENTS: "factor.enrol" is not an audit event type/],
    ['WEBHOOK_EVENTS (prefix)', { WEBHOOK_URL: 'https://a.example', WEBHOOK_SECRET: SECRET, WEBHOOK_EVENTS: 'nothing.*' }, /matches no audit event type/],
  ])('a bad %s fails at start naming it', (_name, env, message) => {
    expect(() => loadConfig({ ...good, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...good, ...env })).toThrow(message);
  });

  it('production: only an https webhook', () => {
    const prod = { ...good, NODE_ENV: 'production', DATABASE_URL: 'postgres://x', REDIS_URL: 'redis://x' };
    expect(() => loadConfig({ ...prod, WEBHOOK_URL: 'http://siem.example.com/hook', WEBHOOK_SECRET: SECRET })).toThrow(/must be an https:\/\/ URL with NODE_ENV=production/);
    expect(loadConfig({ ...prod, WEBHOOK_URL: 'https://siem.example.com/hook', WEBHOOK_SECRET: SECRET }).webhook).toBeDefined();
  });
});

describe('SSRF: which webhook targets are refused (issue #17)', () => {
  it.each([
    ['127.0.0.1', false],
    ['10.1.2.3', false],
    ['172.16.0.1', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false], // cloud metadata
    ['100.64.0.1', false], // carrier-grade NAT
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['::1', false],
    ['fe80::1', false],
    ['fd00::1', false],
    ['::ffff:127.0.0.1', false], // IPv4-mapped loopback
    ['::ffff:10.0.0.1', false],
    ['2002:7f00:1::', false], // 6to4 of 127.0.0.1
    ['93.184.216.34', true],
    ['2606:4700::1111', true],
    ['not an address', false],
  ])('%s is public: %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });

  it('refuses credentials in the URL, http in production, a private literal without the flag', () => {
    const url = (u: string) => new URL(u);
    expect(urlProblem(url('https://user:pw@hooks.example.com/'), { production: false, allowPrivate: false })).toMatch(/no credentials/);
    expect(urlProblem(url('http://hooks.example.com/'), { production: true, allowPrivate: false })).toMatch(/only https/);
    expect(urlProblem(url('http://[::1]:8080/'), { production: false, allowPrivate: false })).toMatch(/::1 is not a public address/);
    expect(urlProblem(url('http://127.0.0.1:8080/'), { production: false, allowPrivate: true })).toBeUndefined();
    expect(urlProblem(url('https://hooks.example.com/'), { production: true, allowPrivate: false })).toBeUndefined();
  });
});
