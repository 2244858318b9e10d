import { describe, expect, it } from '@jest/globals';
import { DEFAULT_POLICY, parsePolicy } from './levels.js';

describe('policy file (SPEC §1, §6 POLICY_FILE)', () => {
  it('ships the defaults of SPEC §1', () => {
    expect(DEFAULT_POLICY.levels.map((l) => [l.acr, l.step, l.maxAge])).toEqual([
      ['aal1', 'primary', 30 * 24 * 3600],
      ['aal2', 'second_factor', 12 * 3600],
      ['phr', 'phishing_resistant', 12 * 3600],
      ['phrh', 'device_bound', 12 * 3600],
    ]);
    expect(DEFAULT_POLICY.selfEnrollment).toBe(true);
  });

  it('parses a policy and ranks levels in order', () => {
    const p = parsePolicy({ levels: [{ acr: 'basic', step: 'primary', maxAge: 3600 }, { acr: 'strong', step: 'second_factor', maxAge: 600 }], selfEnrollment: false });
    expect(p.levels.map((l) => [l.acr, l.rank])).toEqual([['basic', 1], ['strong', 2]]);
    expect(p.selfEnrollment).toBe(false);
  });

  it.each([
    [{}, /levels/],
    [{ levels: [] }, /levels/],
    [{ levels: [{ acr: 'a', step: 'second_factor', maxAge: 1 }] }, /lowest level must be a primary step/],
    [{ levels: [{ acr: 'a', step: 'primary', maxAge: -1 }] }, /levels\.0\.maxAge/],
    [{ levels: [{ acr: 'a', step: 'primary', maxAge: 1 }, { acr: 'a', step: 'second_factor', maxAge: 1 }] }, /duplicate acr a/],
    [{ levels: [{ acr: 'a', step: 'teleport', maxAge: 1 }] }, /levels\.0\.step/],
    [{ levels: [{ acr: 'a b', step: 'primary', maxAge: 1 }] }, /spaces/],
    [{ levels: [{ acr: 'a', step: 'primary', maxAge: 1 }], extra: 1 }, /extra|Unrecognized/i],
  ])('rejects %j with a readable message', (json, message) => {
    expect(() => parsePolicy(json)).toThrow(message);
  });
});
