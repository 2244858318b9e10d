import { describe, expect, it } from '@jest/globals';
import { DEFAULT_POLICY, decide, explain, parseSessionSpec, type DecisionInputs, type EnrolledFactor } from './index.js';

const NOW = 1_800_000_000;
const password: EnrolledFactor = { factor: 'password', credentialId: 'password' };
const totp: EnrolledFactor = { factor: 'totp', credentialId: 't1' };
const deviceKey: EnrolledFactor = { factor: 'webauthn', credentialId: 'w2', backupEligible: false, userVerifying: false };

const inputs = (over: Partial<DecisionInputs> & { session?: string }): DecisionInputs => ({
  policy: DEFAULT_POLICY,
  request: {},
  client: {},
  sessionEvents: over.session ? parseSessionSpec(over.session, NOW) : [],
  enrolled: [password, totp],
  now: NOW,
  ...over,
});

describe('issue #19: explain() traces the decision decide() makes (SPEC §2 rules as rows)', () => {
  it.each([
    ['rule 2: password session asks aal1', { session: 'password@-10m', request: { acrValues: 'aal1' } }, 'satisfied', 'already_held', 'aal1', []],
    ['rule 3: password session asks aal2: only the second factor', { session: 'password@-10m', request: { acrValues: 'aal2' } }, 'step_up', 'level_not_held', 'aal2', ['aal2']],
    ['rule 3: no session asks aal2: both steps', { request: { acrValues: 'aal2' } }, 'step_up', 'no_session', 'aal2', ['aal1', 'aal2']],
    ['rule 1: unknown values ignored', { session: 'password@-10m', request: { acrValues: 'gold aal1' } }, 'satisfied', 'already_held', 'aal1', []],
    ['rule 1: client minimum raises the target', { session: 'password@-10m', request: { acrValues: 'aal1' }, client: { minimumAcr: 'aal2' } }, 'step_up', 'level_not_held', 'aal2', ['aal2']],
    ['rule 4: phr without WebAuthn is unmet', { session: 'password@-10m', request: { acrValues: 'phr' } }, 'unmet', 'no_enrolled_factor_for_target', undefined, []],
    ['rule 4: essential unknown acr', { session: 'password@-10m', request: { claims: { id_token: { acr: { essential: true, value: 'gold' } } } } }, 'unmet', 'essential_acr_unknown', undefined, []],
    ['rule 5: nothing asked: highest held', { session: 'password@-10m,totp@-5m' }, 'satisfied', 'no_acr_requested', 'aal2', []],
    ['rule 6: max_age passed: re-verify', { session: 'password@-10m', request: { acrValues: 'aal1', maxAge: 60 } }, 'step_up', 'max_age_exceeded', 'aal1', ['aal1']],
    ['rule 6: prompt=login', { session: 'password@-1m', request: { acrValues: 'aal1', prompt: 'login' } }, 'step_up', 'fresh_login_requested', 'aal1', ['aal1']],
    ['SPEC §1: aal2 window (12 h) passed', { session: 'password@-1d,totp@-13h', request: { acrValues: 'aal2' } }, 'step_up', 'level_not_held', 'aal2', ['aal2']],
    ['phrh with a device-bound key', { session: 'password@-1m', request: { acrValues: 'phrh' }, enrolled: [password, deviceKey] }, 'step_up', 'level_not_held', 'phrh', ['aal2', 'phr', 'phrh']],
  ] as const)('%s', (_name, over, outcome, reason, target, steps) => {
    const given = inputs(over as Partial<DecisionInputs> & { session?: string });
    const trace = explain(given);
    const { decision } = decide(given);
    expect(trace.outcome.code).toBe(decision.outcome);
    expect(trace.outcome).toMatchObject({ code: outcome, reason });
    expect(trace.target?.acr).toBe(target);
    expect(trace.steps.map((s) => s.acr)).toEqual(steps);
    expect(trace.outcome.words.length).toBeGreaterThan(10);
  });

  it('held levels carry their age against their window', () => {
    const trace = explain(inputs({ session: 'password@-10m,totp@-5m', request: { acrValues: 'aal2' } }));
    expect(trace.held.slice(0, 3)).toEqual([
      expect.objectContaining({ acr: 'aal1', held: true, ageSeconds: 600, maxAgeSeconds: 30 * 86400 }),
      expect.objectContaining({ acr: 'aal2', held: true, ageSeconds: 300, maxAgeSeconds: 12 * 3600 }),
      expect.objectContaining({ acr: 'phr', held: false }),
    ]);
    expect(trace.issued).toEqual({ acr: 'aal2', amr: ['pwd', 'otp', 'mfa'], authTime: NOW - 300 });
    expect(trace.requirement).toMatchObject({ requested: ['aal2'], source: 'acr_values', essential: false });
  });

  it('rule 7: a step-up under prompt=none says the client gets login_required', () => {
    const trace = explain(inputs({ session: 'password@-10m', request: { acrValues: 'aal2', prompt: 'none' } }));
    expect(trace.outcome).toMatchObject({ code: 'step_up', reason: 'level_not_held' });
    expect(trace.outcome.words).toMatch(/^prompt=none: .*login_required/);
  });

  it('a level not held says why: never verified, its window passed, or a lower level is missing', () => {
    const trace = explain(inputs({ session: 'password@-1d,totp@-13h', request: { acrValues: 'aal2' } }));
    expect(trace.held[0]).toMatchObject({ acr: 'aal1', held: true, ageSeconds: 86400 });
    expect(trace.held[1]).toMatchObject({ acr: 'aal2', held: false, ageSeconds: 13 * 3600, words: 'not held: last verified 13 h ago, older than its 12 h window' });
    expect(trace.held[2]).toMatchObject({ acr: 'phr', held: false, words: 'not held: never verified in this session' });
    expect(trace.held[2]!.ageSeconds).toBeUndefined();
    // a TOTP code still fresh, but the password (aal1) expired: aal2 is not held because aal1 is not
    const stale = explain(inputs({ session: 'password@-31d,totp@-1h', request: { acrValues: 'aal2' } }));
    expect(stale.held[0]).toMatchObject({ acr: 'aal1', held: false, words: 'not held: last verified 31 days ago, older than its 30 days window' });
    expect(stale.held[1]).toMatchObject({ acr: 'aal2', held: false, ageSeconds: 3600, words: 'not held: verified 60 min ago, but aal1 is not held' });
  });

  it('steps name the allowed factors', () => {
    const trace = explain(inputs({ session: 'password@-10m', request: { acrValues: 'aal2' } }));
    expect(trace.steps).toEqual([expect.objectContaining({ acr: 'aal2', step: 'second_factor', allowedFactors: ['totp'] })]);
  });

  it.each(['password@10m', 'fingerprint@-1m', 'totp@-5y'])('a bad --session entry %s is a one-line error', (spec) => {
    expect(() => parseSessionSpec(spec, NOW)).toThrow(/^bad session event/);
  });
});
