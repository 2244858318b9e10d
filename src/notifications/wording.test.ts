import { describe, expect, it } from '@jest/globals';
import type { Notification } from './notification.js';
import { summarize } from './wording.js';

const context = { at: '2026-12-06T03:00:00.000Z', ip: '203.0.113.7', userAgent: 'x', device: 'Firefox 120 on Linux' };
const factor = { id: 'f1', type: 'webauthn' as const, label: 'YubiKey <5>' };

/** One of each kind: the table below must grow with the union (the `satisfies` makes a missing kind a compile error). */
const ONE_OF_EACH = {
  factor_added: { kind: 'factor_added', accountId: 'a', context, factor },
  factor_removed: { kind: 'factor_removed', accountId: 'a', context, factor, by: 'self' },
  factors_reset: { kind: 'factors_reset', accountId: 'a', context, factors: 2, recoveryCodes: 10 },
  admin_added_totp: { kind: 'admin_added_totp', accountId: 'a', context, factor: { ...factor, type: 'totp' } },
  recovery_code_used: { kind: 'recovery_code_used', accountId: 'a', context, remaining: 1 },
  recovery_codes_regenerated: { kind: 'recovery_codes_regenerated', accountId: 'a', context, count: 10 },
  lockout: { kind: 'lockout', accountId: 'a', context, factor: 'totp', lockedForSeconds: 90 },
  account_disabled: { kind: 'account_disabled', accountId: 'a', context },
  password_changed: { kind: 'password_changed', accountId: 'a', context, via: 'account_page' },
  password_reset: { kind: 'password_reset', accountId: 'a', context },
  temporary_password_set: { kind: 'temporary_password_set', accountId: 'a', context },
  password_set_by_admin: { kind: 'password_set_by_admin', accountId: 'a', context },
  new_device_sign_in: { kind: 'new_device_sign_in', accountId: 'a', context, outcome: 'signed_in', signals: ['new_device', 'new_network'], network: '203.0.113.0/24' },
} satisfies { [K in Notification['kind']]: Extract<Notification, { kind: K }> };

describe('notification wording (SPEC §4, issue #17)', () => {
  it.each(Object.values(ONE_OF_EACH) as Notification[])('$kind says what happened and what to do if it was not them', (n) => {
    const s = summarize(n);
    expect(s.subject.length).toBeGreaterThan(10);
    expect(s.what.length).toBeGreaterThan(10);
    expect(s.advice).toMatch(/not (you|yours|expect)/);
  });

  it('names the factor as given (escaping is the template’s job) and counts what is left', () => {
    expect(summarize(ONE_OF_EACH.factor_added).what).toContain('"YubiKey <5>"');
    expect(summarize(ONE_OF_EACH.recovery_code_used).what).toContain('1 unused code remains');
    expect(summarize(ONE_OF_EACH.lockout).what).toContain('2 minute(s)');
  });

  it('issue #16: a new-device sign-in says from what, where from, and refused or not', () => {
    expect(summarize(ONE_OF_EACH.new_device_sign_in)).toMatchObject({ subject: 'New sign-in to your account from a new device and network', facts: [['Network', '203.0.113.0/24']], fromTheirRequest: true });
    const refused = summarize({ ...ONE_OF_EACH.new_device_sign_in, outcome: 'refused', signals: ['recent_failures'] });
    expect(refused.subject).toBe('A sign-in to your account from a device was refused');
    expect(refused.what).toContain('after failed sign-in attempts');
  });

  it('a change by an administrator does not show the administrator’s browser and network to the person', () => {
    expect(summarize(ONE_OF_EACH.account_disabled).fromTheirRequest).toBe(false);
    expect(summarize({ ...ONE_OF_EACH.factor_removed, by: 'admin' }).fromTheirRequest).toBe(false);
    expect(summarize(ONE_OF_EACH.factor_removed).fromTheirRequest).toBe(true);
  });
});
