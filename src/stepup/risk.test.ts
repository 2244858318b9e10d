import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { decide } from './decide.js';
import { amrForEvent, type FactorEvent } from './factor-events.js';
import { FACTOR_KINDS } from './factor-kinds.js';
import { heldLevels } from './held-levels.js';
import { DEFAULT_POLICY, levelOf, parsePolicy, type Policy } from './levels.js';
import { parseRequirement } from './requirement.js';
import { assessRisk, riskDemands, DEFAULT_RISK_POLICY, type RiskFacts, type RiskPolicy } from './risk.js';
import type { EnrolledFactor } from './steps.js';

const NOW = 2_000_000_000;
const PASSWORD: EnrolledFactor = { factor: 'password', credentialId: 'password' };
const TOTP: EnrolledFactor = { factor: 'totp', credentialId: 'totp-1' };
const KNOWN: RiskFacts = { knownDevice: true, knownNetwork: true, recentFailures: 0 };
const pwd = (ago = 30): FactorEvent => ({ factor: 'password', at: NOW - ago, amr: ['pwd'] });
const totp = (ago = 10): FactorEvent => ({ factor: 'totp', credentialId: 'totp-1', at: NOW - ago, amr: ['otp'] });

const assess = (facts: RiskFacts, acrValues: string | undefined, enrolled: EnrolledFactor[], policy: Policy = DEFAULT_POLICY) =>
  assessRisk({ policy, requirement: parseRequirement(policy, { acrValues }, {}), facts, enrolled, now: NOW });

describe('issue #16: which signals fire, and what each demands', () => {
  it.each<[string, RiskFacts, string[]]>([
    ['a known device on a known network, no failures: nothing', KNOWN, []],
    ['a browser without a valid device cookie for the account', { ...KNOWN, knownDevice: false }, ['new_device']],
    ['a network the account never signed in from', { ...KNOWN, knownNetwork: false }, ['new_network']],
    ['failures below the threshold: nothing', { ...KNOWN, recentFailures: 2 }, []],
    ['failures at the threshold', { ...KNOWN, recentFailures: 3 }, ['recent_failures']],
    ['all three at once', { knownDevice: false, knownNetwork: false, recentFailures: 9 }, ['new_device', 'new_network', 'recent_failures']],
  ])('%s', (_label, facts, reasons) => {
    expect(riskDemands(facts, DEFAULT_RISK_POLICY).map((d) => d.reason)).toEqual(reasons);
    expect(riskDemands(facts, DEFAULT_RISK_POLICY).every((d) => d.acr === 'aal2')).toBe(true);
  });

  it('a signal turned off never fires; no risk policy: nothing', () => {
    const off: RiskPolicy = { ...DEFAULT_RISK_POLICY, newDevice: { ...DEFAULT_RISK_POLICY.newDevice, enabled: false } };
    expect(riskDemands({ ...KNOWN, knownDevice: false }, off)).toEqual([]);
    expect(riskDemands({ knownDevice: false, knownNetwork: false, recentFailures: 50 }, undefined)).toEqual([]);
  });

  it('several signals demanding different levels: the requirement is the highest', () => {
    const policy = parsePolicy({
      levels: DEFAULT_POLICY.levels.map(({ acr, step, maxAge }) => ({ acr, step, maxAge })),
      risk: { newDevice: { demand: 'phr' }, newNetwork: { demand: 'aal2' } },
    });
    const demands = riskDemands({ knownDevice: false, knownNetwork: false, recentFailures: 0 }, policy.risk);
    const result = decide({ policy, request: { acrValues: 'aal1' }, client: {}, sessionEvents: [pwd()], enrolled: [PASSWORD, { factor: 'webauthn', credentialId: 'k', backupEligible: true, userVerifying: true }], now: NOW, demands });
    expect(result.requirement.requested).toEqual(['phr']);
  });
});

describe('issue #16: a demand against the request and the account', () => {
  it('applied: the app asks aal1, the account has a second factor', () => {
    const risk = assess({ ...KNOWN, knownDevice: false }, 'aal1', [PASSWORD, TOTP]);
    expect(risk).toEqual({ fired: [{ reason: 'new_device', demanded: 'aal2', outcome: 'applied' }], demands: [{ reason: 'new_device', acr: 'aal2' }], deny: false });
  });
  it('moot: the app already asks aal2', () => {
    expect(assess({ ...KNOWN, knownNetwork: false }, 'aal2', [PASSWORD, TOTP]).fired).toEqual([{ reason: 'new_network', demanded: 'aal2', outcome: 'moot' }]);
  });
  it('unreachable (password only): dropped under notify, so no enrollment is ever offered because of it', () => {
    const risk = assess({ ...KNOWN, knownDevice: false }, 'aal1', [PASSWORD]);
    expect(risk).toEqual({ fired: [{ reason: 'new_device', demanded: 'aal2', outcome: 'unreachable' }], demands: [], deny: false });
    const result = decide({ policy: DEFAULT_POLICY, request: { acrValues: 'aal1' }, client: {}, sessionEvents: [], interaction: { events: [pwd()] }, enrolled: [PASSWORD], now: NOW, demands: risk.demands });
    expect(result.decision).toMatchObject({ outcome: 'satisfied', acr: 'aal1' });
  });
  it('unreachable under deny: the sign-in is refused', () => {
    const policy: Policy = { ...DEFAULT_POLICY, risk: { ...DEFAULT_RISK_POLICY, onUnreachable: 'deny' } };
    expect(assess({ ...KNOWN, recentFailures: 5 }, undefined, [PASSWORD], policy).deny).toBe(true);
    // the same account on a known device: nothing to deny
    expect(assess(KNOWN, undefined, [PASSWORD], policy).deny).toBe(false);
  });
  it('"aal1 aal2" for a password-only account: the demand would drop aal1 and lead to an enrollment, so it is unreachable', () => {
    expect(assess({ ...KNOWN, knownDevice: false }, 'aal1 aal2', [PASSWORD]).fired[0]?.outcome).toBe('unreachable');
  });
  it('a signal that fires while the session holds the demanded level, fresh: nothing is asked', () => {
    const risk = assess({ ...KNOWN, knownDevice: false }, 'aal1', [PASSWORD, TOTP]);
    const result = decide({ policy: DEFAULT_POLICY, request: { acrValues: 'aal1' }, client: {}, sessionEvents: [pwd(), totp()], enrolled: [PASSWORD, TOTP], now: NOW, demands: risk.demands });
    expect(result.decision).toMatchObject({ outcome: 'satisfied', acr: 'aal2' });
  });
});

describe('policy file: the "risk" section', () => {
  const levels = DEFAULT_POLICY.levels.map(({ acr, step, maxAge }) => ({ acr, step, maxAge }));
  it('defaults: every signal on, aal2, notify, /24 and /48, 3 failures, a 400-day cookie', () => {
    expect(parsePolicy({ levels }).risk).toEqual(DEFAULT_RISK_POLICY);
    expect(DEFAULT_POLICY.risk).toEqual(DEFAULT_RISK_POLICY);
  });
  it('a demand defaults to the second level of a custom chain; a one-level chain has nothing to demand', () => {
    const custom = parsePolicy({ levels: [{ acr: 'basic', step: 'primary', maxAge: 3600 }, { acr: 'strong', step: 'second_factor', maxAge: 600 }] });
    expect(custom.risk?.newDevice).toMatchObject({ enabled: true, demand: 'strong' });
    expect(parsePolicy({ levels: [{ acr: 'basic', step: 'primary', maxAge: 3600 }] }).risk?.newNetwork.enabled).toBe(false);
  });
  it.each<[unknown, string]>([
    [{ newDevice: { demand: 'gold' } }, 'risk.newDevice.demand: "gold" is not an acr value of the levels'],
    [{ onUnreachable: 'block' }, 'risk.onUnreachable: must be "notify" or "deny"'],
    [{ newNetwork: { ipv4Prefix: 40 } }, 'risk.newNetwork.ipv4Prefix: must be at most 32'],
    [{ newDevice: { cookieMaxAgeDays: 500 } }, 'risk.newDevice.cookieMaxAgeDays: must be at most 400'],
    [{ recentFailures: { threshold: 0 } }, 'risk.recentFailures.threshold: must be at least 1'],
    [{ newDevice: { enable: false } }, 'risk.newDevice: unknown field "enable"'],
    [{ newSignal: {} }, 'risk: unknown field "newSignal"'],
  ])('refuses %j', (risk, message) => {
    expect(() => parsePolicy({ levels, risk })).toThrow(message);
  });
});

describe('issue #16 property: a signal raises what is required, never what is granted', () => {
  const event = fc
    .record({ factor: fc.constantFrom(...FACTOR_KINDS), ago: fc.integer({ min: 0, max: 40 * 86400 }), userVerified: fc.boolean(), backupEligible: fc.boolean() })
    .map(({ factor, ago, userVerified, backupEligible }): FactorEvent => {
      const base = { factor, at: NOW - ago, credentialId: `${factor}-1`, ...(factor === 'webauthn' ? { userVerified, backupEligible } : {}) };
      return { ...base, amr: amrForEvent(base) };
    });
  const enrolledFactor = fc.constantFrom<EnrolledFactor>(
    PASSWORD,
    TOTP,
    { factor: 'recovery_code', credentialId: 'recovery_codes' },
    { factor: 'webauthn', credentialId: 'webauthn-1', backupEligible: true, userVerifying: true },
    { factor: 'webauthn', credentialId: 'webauthn-1', backupEligible: false, userVerifying: false },
  );
  const acr = fc.constantFrom('aal1', 'aal2', 'phr', 'phrh', 'gold');
  const arbitraryPolicy = fc
    .record({ device: acr, network: acr, failures: acr, onUnreachable: fc.constantFrom('notify' as const, 'deny' as const), selfEnrollment: fc.boolean() })
    .map(({ device, network, failures, onUnreachable, selfEnrollment }): Policy => {
      const demand = (a: string) => (levelOf(DEFAULT_POLICY, a) ? a : 'aal2');
      return {
        ...DEFAULT_POLICY,
        selfEnrollment,
        risk: {
          onUnreachable,
          newDevice: { ...DEFAULT_RISK_POLICY.newDevice, demand: demand(device) },
          newNetwork: { ...DEFAULT_RISK_POLICY.newNetwork, demand: demand(network) },
          recentFailures: { ...DEFAULT_RISK_POLICY.recentFailures, demand: demand(failures) },
        },
      };
    });
  const rank = (policy: Policy, values: string[]) => (values.length === 0 ? 0 : Math.min(...values.map((v) => levelOf(policy, v)?.rank ?? 0)));

  it('for any fired signals: requirement never lower, granted acr proven by the events, no grant and no enrollment a signal alone brought', () => {
    fc.assert(
      fc.property(
        arbitraryPolicy,
        fc.record({ knownDevice: fc.boolean(), knownNetwork: fc.boolean(), recentFailures: fc.integer({ min: 0, max: 10 }) }),
        fc.option(fc.array(acr, { minLength: 1, maxLength: 3 }).map((v) => v.join(' ')), { nil: undefined }),
        fc.array(event, { maxLength: 4 }),
        fc.array(event, { maxLength: 3 }),
        fc.uniqueArray(enrolledFactor, { selector: (f) => f.factor + String(f.userVerifying), maxLength: 4 }).map((f) => [PASSWORD, ...f.filter((x) => x !== PASSWORD)]),
        (policy, facts, acrValues, sessionEvents, fresh, enrolled) => {
          const request = { acrValues };
          const risk = assessRisk({ policy, requirement: parseRequirement(policy, request, {}), facts, enrolled, now: NOW });
          const inputs = { policy, request, client: {}, sessionEvents, interaction: { events: fresh }, enrolled, now: NOW };
          const without = decide(inputs);
          const withSignals = decide({ ...inputs, demands: risk.demands });
          // the requirement is never lower than without the signals
          expect(rank(policy, withSignals.requirement.requested)).toBeGreaterThanOrEqual(rank(policy, without.requirement.requested));
          if (withSignals.decision.outcome === 'satisfied') {
            // the issued acr is one the events prove
            expect(heldLevels(policy, [...sessionEvents, ...fresh], NOW)).toContain(withSignals.decision.acr);
            // and a signal never turns a prompt into a grant
            expect(without.decision.outcome).toBe('satisfied');
          }
          // a signal never brings an enrollment the request alone would not offer
          if (withSignals.decision.outcome === 'step_up' && withSignals.decision.enrollmentAllowed) {
            expect(without.decision).toMatchObject({ outcome: 'step_up', enrollmentAllowed: true });
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
