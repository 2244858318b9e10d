import { describe, expect, it } from '@jest/globals';
import { describeEvent } from './audit-lines.js';

const event = (type: string, outcome = 'success') => ({ type, outcome, reason: null, actor: 'a1', subject: 's1', client_id: null, user_agent: null, details: {} });
const names = new Map([
  ['a1', 'admin@example.com'],
  ['s1', 'alice@example.com'],
]);

describe('audit lines', () => {
  it('names an admin reset with the type it is recorded under (admin.factors.reset)', () => {
    expect(describeEvent(event('admin.factors.reset'), names)).toBe('admin@example.com reset every second factor of alice@example.com');
  });

  it('shows a stored type this version does not know raw', () => {
    expect(describeEvent(event('legacy.thing', 'info'), names)).toBe('alice@example.com legacy.thing (info)');
  });
});
