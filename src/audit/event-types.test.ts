import { describe, expect, it } from '@jest/globals';
import { FACTOR_KINDS } from '../stepup/factor-kinds.js';
import { AUDIT_EVENT_TYPES, isAuditEventType, loginEventType, type AuditEvent } from './audit.js';

describe('audit event types (issue #17)', () => {
  it('are one list of distinct, stable strings with a login type per factor kind', () => {
    expect(new Set(AUDIT_EVENT_TYPES).size).toBe(AUDIT_EVENT_TYPES.length);
    for (const kind of FACTOR_KINDS) expect(AUDIT_EVENT_TYPES).toContain(`login.${kind}`);
    expect(loginEventType('recovery_code')).toBe('login.recovery_code');
    for (const type of AUDIT_EVENT_TYPES) expect(type).toMatch(/^[a-z_]+(\.[a-z_]+)+$/);
  });

  it('a typo is not an audit event: it does not compile, and a stored unknown type is recognised as such', () => {
    // @ts-expect-error 'login.passwrod' is not an AuditEventType (npm run typecheck fails if this compiles)
    const typo: AuditEvent = { type: 'login.passwrod', outcome: 'failure' };
    expect(isAuditEventType(typo.type)).toBe(false);
    expect(isAuditEventType('stepup.decision')).toBe(true);
  });
});
