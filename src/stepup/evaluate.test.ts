import { describe, expect, it } from '@jest/globals';
import { amrForEvent, type FactorEvent, type FactorKind } from './factor-events.js';
import { evaluate, heldLevels, tokenClaimsFor, type EnrolledFactor } from './evaluate.js';
import { DEFAULT_POLICY, type Policy } from './levels.js';
import { parseRequirement, type AuthorizationInputs, type ClientAcrSettings } from './requirement.js';

const NOW = 2_000_000_000;
const HOUR = 3600;
const policy = DEFAULT_POLICY;

function ev(factor: FactorKind, agoSeconds: number, extra: Partial<FactorEvent> = {}): FactorEvent {
  const e = { factor, at: NOW - agoSeconds, ...extra };
  return { ...e, amr: amrForEvent(e) };
}
const pwd = (ago = 60) => ev('password', ago);
const totp = (ago = 30) => ev('totp', ago, { credentialId: 't1' });
const recovery = (ago = 30) => ev('recovery_code', ago);
const passkey = (ago = 10, backupEligible = true) => ev('webauthn', ago, { userVerified: true, backupEligible, credentialId: 'pk' });
const securityKey = (ago = 10) => ev('webauthn', ago, { userVerified: false, backupEligible: false, credentialId: 'sk' });

const enrolled = {
  passwordOnly: [{ factor: 'password', credentialId: 'password' }] as EnrolledFactor[],
  withTotp: [
    { factor: 'password', credentialId: 'password' },
    { factor: 'totp', credentialId: 't1' },
  ] as EnrolledFactor[],
  withSyncedPasskey: [
    { factor: 'password', credentialId: 'password' },
    { factor: 'webauthn', credentialId: 'pk', backupEligible: true, userVerifying: true },
  ] as EnrolledFactor[],
  withSecurityKey: [
    { factor: 'password', credentialId: 'password' },
    { factor: 'webauthn', credentialId: 'sk', backupEligible: false, userVerifying: false },
  ] as EnrolledFactor[],
};

function decide(inputs: AuthorizationInputs, events: FactorEvent[], has: EnrolledFactor[] = enrolled.withTotp, client: ClientAcrSettings = {}, p: Policy = policy) {
  return evaluate({ policy: p, requirement: parseRequirement(p, inputs, client), events, enrolled: has, now: NOW });
}

describe('SPEC §1: held levels are derived from factor events and their windows', () => {
  it.each([
    ['no events', [], []],
    ['a password', [pwd()], ['aal1']],
    ['password + TOTP', [pwd(), totp()], ['aal1', 'aal2']],
    ['password + recovery code (aal2 only)', [pwd(), recovery()], ['aal1', 'aal2']],
    ['TOTP alone (no primary)', [totp()], []],
    ['a synced passkey with UV: steps 1, 2 and 3 at once', [passkey(10, true)], ['aal1', 'aal2', 'phr']],
    ['a device-bound passkey with UV: up to phrh', [passkey(10, false)], ['aal1', 'aal2', 'phr', 'phrh']],
    ['password + security key without UV', [pwd(), securityKey()], ['aal1', 'aal2', 'phr', 'phrh']],
    ['password 31 days ago', [pwd(31 * 24 * HOUR)], []],
    ['TOTP 13 h ago steps down to aal1', [pwd(), totp(13 * HOUR)], ['aal1']],
    ['a stale aal2 does not hold phr even with a fresh key', [pwd(), totp(13 * HOUR), ev('webauthn', 5, { backupEligible: true })], ['aal1', 'aal2', 'phr']],
  ])('%s → %j', (_label, events, expected) => {
    expect(heldLevels(policy, events as FactorEvent[], NOW)).toEqual(expected);
  });

  it('a level needs every level below it: a security key without UV and no primary factor holds nothing', () => {
    expect(heldLevels(policy, [ev('webauthn', 5, { userVerified: false, backupEligible: false })], NOW)).toEqual([]);
  });

  it('requireAttestation makes phrh need an attested credential', () => {
    const strict: Policy = { ...policy, levels: policy.levels.map((l) => (l.acr === 'phrh' ? { ...l, requireAttestation: true } : l)) };
    expect(heldLevels(strict, [passkey(10, false)], NOW)).toEqual(['aal1', 'aal2', 'phr']);
    expect(heldLevels(strict, [ev('webauthn', 10, { userVerified: true, backupEligible: false, attested: true })], NOW)).toContain('phrh');
  });
});

describe('SPEC §2 rule 1: requirement parsing', () => {
  it.each([
    ['acr_values in order', { acrValues: 'aal2 aal1' }, {}, ['aal2', 'aal1']],
    ['unknown values ignored', { acrValues: 'gold aal2' }, {}, ['aal2']],
    ['only unknown → as if none asked', { acrValues: 'gold' }, {}, []],
    ['client defaults when absent', {}, { defaultAcrValues: ['aal2'] }, ['aal2']],
    ['below the minimum dropped', { acrValues: 'aal1 phr' }, { minimumAcr: 'aal2' }, ['phr']],
    ['nothing left → the minimum', { acrValues: 'aal1' }, { minimumAcr: 'aal2' }, ['aal2']],
    ['no request, a minimum → the minimum', {}, { minimumAcr: 'aal2' }, ['aal2']],
    ['essential value wins over acr_values', { acrValues: 'aal1', claims: { id_token: { acr: { essential: true, value: 'aal2' } } } }, {}, ['aal2']],
    ['essential values', { claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['phr', 'aal2'] } } }) }, {}, ['phr', 'aal2']],
    ['voluntary claims acr acts as acr_values', { claims: { id_token: { acr: { values: ['aal2'] } } } }, {}, ['aal2']],
    ['garbage claims ignored', { claims: '{not json', acrValues: 'aal1' }, {}, ['aal1']],
  ])('%s', (_label, inputs, client, requested) => {
    expect(parseRequirement(policy, inputs as AuthorizationInputs, client as ClientAcrSettings).requested).toEqual(requested);
  });

  it('an essential acr naming only unknown values is unmet (rule 4)', () => {
    const r = parseRequirement(policy, { claims: { id_token: { acr: { essential: true, values: ['gold'] } } } }, {});
    expect(r.unmetReason).toBe('essential_acr_unknown');
  });

  it.each([
    [{ prompt: 'login' }, true],
    [{ prompt: 'consent login' }, true],
    [{ maxAge: 0 }, true],
    [{ maxAge: 10 }, false],
    [{}, false],
  ])('%j → freshLogin %s', (inputs, fresh) => {
    expect(parseRequirement(policy, inputs, {}).freshLogin).toBe(fresh);
  });
});

describe('SPEC §2 rules 2–8: decisions', () => {
  it('rule 2: a held requested level needs no prompt; the highest requested value held is issued', () => {
    expect(decide({ acrValues: 'aal1' }, [pwd(), totp()])).toMatchObject({ outcome: 'satisfied', acr: 'aal1', reason: 'already_held' });
    expect(decide({ acrValues: 'aal1 aal2' }, [pwd(), totp()])).toMatchObject({ outcome: 'satisfied', acr: 'aal2' });
  });

  it('rule 3: a password session asked for aal2 is asked only for the second factor', () => {
    const d = decide({ acrValues: 'aal2' }, [pwd()]);
    expect(d).toMatchObject({ outcome: 'step_up', target: 'aal2', missing: [{ acr: 'aal2', step: 'second_factor', allowedFactors: ['totp'] }] });
  });

  it('rule 3: the first requested value the user can reach is the target ("phr aal2" for a TOTP user → aal2)', () => {
    expect(decide({ acrValues: 'phr aal2' }, [pwd()])).toMatchObject({ outcome: 'step_up', target: 'aal2' });
  });

  it('rule 3: no session asked for aal2 → password then the second factor', () => {
    const d = decide({ acrValues: 'aal2' }, []);
    expect(d).toMatchObject({ outcome: 'step_up', reason: 'no_session' });
    expect(d.outcome === 'step_up' && d.missing.map((m) => m.step)).toEqual(['primary', 'second_factor']);
  });

  it('rule 3: only factors that can lift the session are offered (phr → WebAuthn only)', () => {
    const d = decide({ acrValues: 'phr' }, [pwd()], enrolled.withSecurityKey);
    expect(d).toMatchObject({ outcome: 'step_up', target: 'phr' });
    expect(d.outcome === 'step_up' && d.missing.every((m) => m.allowedFactors.every((f) => f === 'webauthn'))).toBe(true);
  });

  it('rule 4: a known level the user cannot reach is unmet', () => {
    expect(decide({ acrValues: 'phr' }, [pwd()])).toMatchObject({ outcome: 'unmet', reason: 'no_enrolled_factor_for_target' });
    expect(decide({ acrValues: 'phrh' }, [pwd()], enrolled.withSyncedPasskey)).toMatchObject({ outcome: 'unmet' });
  });

  it('rule 4 exception: selfEnrollment lets a password-only user enroll TOTP for aal2; off → unmet', () => {
    expect(decide({ acrValues: 'aal2' }, [pwd()], enrolled.passwordOnly)).toMatchObject({
      outcome: 'step_up',
      enrollmentAllowed: true,
      missing: [{ step: 'second_factor', allowedFactors: ['totp'] }],
    });
    const off = { ...policy, selfEnrollment: false };
    expect(decide({ acrValues: 'aal2' }, [pwd()], enrolled.passwordOnly, {}, off)).toMatchObject({ outcome: 'unmet' });
    // enrolling TOTP cannot reach phr
    expect(decide({ acrValues: 'phr' }, [pwd()], enrolled.passwordOnly)).toMatchObject({ outcome: 'unmet' });
  });

  it('rule 4: an essential unknown acr is unmet whatever the session', () => {
    expect(decide({ claims: { id_token: { acr: { essential: true, value: 'gold' } } } }, [pwd(), totp()])).toMatchObject({ outcome: 'unmet', reason: 'essential_acr_unknown' });
  });

  it('rule 1: the client minimum cannot be lowered by the request', () => {
    expect(decide({ acrValues: 'aal1' }, [pwd()], enrolled.withTotp, { minimumAcr: 'aal2' })).toMatchObject({ outcome: 'step_up', target: 'aal2' });
  });

  it('rule 5: no acr asked → the highest level held; nothing held → a primary factor', () => {
    expect(decide({}, [pwd(), totp()])).toMatchObject({ outcome: 'satisfied', acr: 'aal2', reason: 'no_acr_requested' });
    expect(decide({}, [])).toMatchObject({ outcome: 'step_up', target: 'aal1', reason: 'no_session' });
    expect(decide({ acrValues: 'gold' }, [pwd()])).toMatchObject({ outcome: 'satisfied', acr: 'aal1' });
  });

  it('rule 6: max_age met → satisfied; exceeded → re-verify the target step', () => {
    expect(decide({ maxAge: 100 }, [pwd(60)])).toMatchObject({ outcome: 'satisfied', acr: 'aal1' });
    expect(decide({ maxAge: 10 }, [pwd(60)])).toMatchObject({ outcome: 'step_up', target: 'aal1', reason: 'max_age_exceeded', missing: [{ step: 'primary' }] });
    expect(decide({ maxAge: 10, acrValues: 'aal2' }, [pwd(60), totp(30)])).toMatchObject({
      outcome: 'step_up',
      target: 'aal2',
      reason: 'max_age_exceeded',
      missing: [{ acr: 'aal2', step: 'second_factor' }],
    });
  });

  it('rule 6: prompt=login / max_age=0 asks for a full fresh authentication at the target', () => {
    const d = decide({ prompt: 'login', acrValues: 'aal2' }, [pwd(), totp()]);
    expect(d).toMatchObject({ outcome: 'step_up', reason: 'fresh_login_requested' });
    expect(d.outcome === 'step_up' && d.missing.map((m) => m.acr)).toEqual(['aal1', 'aal2']);
    expect(decide({ maxAge: 0 }, [pwd()])).toMatchObject({ outcome: 'step_up', reason: 'fresh_login_requested' });
  });

  it('steps down when a window passes: an aal2 request past 12 h asks for the second factor only', () => {
    expect(decide({ acrValues: 'aal2' }, [pwd(13 * HOUR), totp(13 * HOUR)])).toMatchObject({
      outcome: 'step_up',
      missing: [{ acr: 'aal2', step: 'second_factor' }],
    });
  });
});

describe('SPEC §2 rules 8–9: amr and auth_time', () => {
  it.each([
    ['password', [pwd()], 'aal1', ['pwd']],
    ['password + TOTP', [pwd(60), totp(30)], 'aal2', ['pwd', 'otp', 'mfa']],
    ['password + recovery code', [pwd(60), recovery(30)], 'aal2', ['pwd', 'otp', 'mfa']],
    ['synced passkey', [passkey(10, true)], 'phr', ['swk', 'user', 'mfa']],
    ['device-bound passkey', [passkey(10, false)], 'phrh', ['hwk', 'user', 'mfa']],
    ['password + security key', [pwd(60), securityKey(10)], 'phrh', ['pwd', 'hwk', 'user', 'mfa']],
    ['only the events supporting aal1', [pwd(60), totp(30)], 'aal1', ['pwd']],
  ])('%s → %s %j', (_label, events, acr, amr) => {
    const claims = tokenClaimsFor(policy, acr, events as FactorEvent[], NOW);
    expect(claims.acr).toBe(acr);
    expect(claims.amr).toEqual(amr);
  });

  it('auth_time is the most recent active verification', () => {
    expect(tokenClaimsFor(policy, 'aal1', [pwd(60), totp(30)], NOW).authTime).toBe(NOW - 30);
    expect(decide({ acrValues: 'aal2' }, [pwd(60), totp(30)])).toMatchObject({ authTime: NOW - 30, amr: ['pwd', 'otp', 'mfa'] });
  });
});
