import { describe, expect, it } from '@jest/globals';
import { DEFAULT_POLICY, levelOf, parsePolicy } from './levels.js';
import { DEFAULT_RISK_POLICY } from './risk-policy.js';

const HOUR = 3600;
const DAY = 24 * HOUR;

describe('SPEC §1: the default policy', () => {
  it('ships aal1, aal2, phr, phrh with their steps, ranks and windows; selfEnrollment on', () => {
    expect(DEFAULT_POLICY).toEqual({
      levels: [
        { acr: 'aal1', rank: 1, step: 'primary', maxAge: 30 * DAY },
        { acr: 'aal2', rank: 2, step: 'second_factor', maxAge: 12 * HOUR },
        { acr: 'phr', rank: 3, step: 'phishing_resistant', maxAge: 12 * HOUR },
        { acr: 'phrh', rank: 4, step: 'device_bound', maxAge: 12 * HOUR },
      ],
      selfEnrollment: true,
      // issue #16: risk signals on by default
      risk: DEFAULT_RISK_POLICY,
    });
  });

  it('is frozen all the way down: no request can change the shared policy', () => {
    expect(Object.isFrozen(DEFAULT_POLICY)).toBe(true);
    expect(Object.isFrozen(DEFAULT_POLICY.levels)).toBe(true);
    expect(DEFAULT_POLICY.levels.every((l) => Object.isFrozen(l))).toBe(true);
  });

  it.each([
    ['aal2', 2],
    ['phrh', 4],
    ['gold', undefined],
    ['toString', undefined],
  ])('levelOf(%s) → rank %s', (acr, rank) => {
    expect(levelOf(DEFAULT_POLICY, acr)?.rank).toBe(rank);
  });
});

describe('SPEC §6 POLICY_FILE: parsePolicy', () => {
  it('accepts the default policy as a file (ranks optional) and gives it back unchanged', () => {
    const asFile = JSON.parse(JSON.stringify(DEFAULT_POLICY));
    expect(parsePolicy(asFile)).toEqual(DEFAULT_POLICY);
    const withoutRanks = { ...asFile, levels: asFile.levels.map(({ rank: _rank, ...level }: { rank: number }) => level) };
    expect(parsePolicy(withoutRanks)).toEqual(DEFAULT_POLICY);
  });

  it('ranks levels by their order and defaults selfEnrollment to true', () => {
    const p = parsePolicy({ levels: [{ acr: 'basic', step: 'primary', maxAge: 3600 }, { acr: 'strong', step: 'second_factor', maxAge: 600 }] });
    expect(p).toEqual({
      levels: [
        { acr: 'basic', rank: 1, step: 'primary', maxAge: 3600 },
        { acr: 'strong', rank: 2, step: 'second_factor', maxAge: 600 },
      ],
      selfEnrollment: true,
      // issue #16: the signals demand the chain's second level
      risk: { ...DEFAULT_RISK_POLICY, newDevice: { ...DEFAULT_RISK_POLICY.newDevice, demand: 'strong' }, newNetwork: { ...DEFAULT_RISK_POLICY.newNetwork, demand: 'strong' }, recentFailures: { ...DEFAULT_RISK_POLICY.recentFailures, demand: 'strong' } },
    });
  });

  it('keeps selfEnrollment false and requireAttestation on a device_bound level', () => {
    const p = parsePolicy({
      levels: [
        { acr: 'aal1', step: 'primary', maxAge: 60 },
        { acr: 'phrh', step: 'device_bound', maxAge: 60, requireAttestation: true },
      ],
      selfEnrollment: false,
    });
    expect(p.selfEnrollment).toBe(false);
    expect(p.levels[1]).toEqual({ acr: 'phrh', rank: 2, step: 'device_bound', maxAge: 60, requireAttestation: true });
  });

  const primary = { acr: 'aal1', step: 'primary', maxAge: 60 };
  it.each([
    ['not an object', 42, 'invalid policy: must be a JSON object with "levels" and optionally "selfEnrollment"'],
    ['null', null, 'must be a JSON object'],
    ['no levels', {}, 'levels: is required and must be a list of levels, lowest first'],
    ['empty levels', { levels: [] }, 'levels: must list at least one level'],
    ['a level that is not an object', { levels: ['aal1'] }, 'levels[0]: must be an object with "acr", "step" and "maxAge"'],
    ['a missing acr', { levels: [{ step: 'primary', maxAge: 60 }] }, 'levels[0].acr: is required and must be a string'],
    ['an acr with a space', { levels: [{ ...primary, acr: 'aal 1' }] }, 'levels[0].acr: must not contain spaces'],
    ['an empty acr', { levels: [{ ...primary, acr: '' }] }, 'levels[0].acr: must not be empty'],
    ['an unknown step', { levels: [{ ...primary, step: 'teleport' }] }, 'levels[0].step: is required and must be one of primary, second_factor, phishing_resistant, device_bound'],
    ['a negative maxAge', { levels: [{ ...primary, maxAge: -1 }] }, 'levels[0].maxAge: must be a positive number of seconds'],
    ['a zero maxAge', { levels: [{ ...primary, maxAge: 0 }] }, 'levels[0].maxAge: must be a positive number of seconds'],
    ['a fractional maxAge', { levels: [{ ...primary, maxAge: 1.5 }] }, 'levels[0].maxAge: must be a whole number of seconds'],
    ['maxAge as a string', { levels: [{ ...primary, maxAge: '12h' }] }, 'levels[0].maxAge: is required and must be a number of seconds'],
    ['selfEnrollment as a string', { levels: [primary], selfEnrollment: 'yes' }, 'selfEnrollment: must be true or false'],
    ['a first level that is not primary', { levels: [{ ...primary, step: 'second_factor' }] }, 'levels[0].step: the lowest level must be the "primary" step'],
    [
      'a second primary level',
      { levels: [primary, { acr: 'again', step: 'primary', maxAge: 60 }] },
      'levels[1].step: only the lowest level can be the "primary" step',
    ],
    ['a duplicate acr', { levels: [primary, { acr: 'aal1', step: 'second_factor', maxAge: 60 }] }, 'levels[1].acr: duplicate acr value "aal1"'],
    [
      'requireAttestation on a non device_bound step',
      { levels: [primary, { acr: 'aal2', step: 'second_factor', maxAge: 60, requireAttestation: true }] },
      'levels[1].requireAttestation: only applies to a "device_bound" step',
    ],
    ['a rank out of order', { levels: [{ ...primary, rank: 3 }] }, 'levels[0].rank: must be 1 (levels are ranked by their position, lowest first) or left out'],
    ['a misspelt field in a level', { levels: [{ ...primary, max_age: 60 }] }, 'levels[0]: unknown field "max_age"'],
    ['a misspelt top-level field', { levels: [primary], selfEnrolment: false }, 'unknown field "selfEnrolment"'],
  ])('rejects %s with a message naming the field', (_label, json, message) => {
    expect(() => parsePolicy(json)).toThrow(message);
  });

  it('names every problem at once, so a policy file is fixed in one go', () => {
    expect(() => parsePolicy({ levels: [{ acr: 'a', step: 'primary', maxAge: -5 }], selfEnrollment: 1 })).toThrow(
      'invalid policy: levels[0].maxAge: must be a positive number of seconds; selfEnrollment: must be true or false',
    );
  });
});
