import { describe, expect, it } from '@jest/globals';
import { evaluate, type Decision } from './evaluate.js';
import { amrForEvent, type FactorEvent, type FactorKind } from './factor-events.js';
import { DEFAULT_POLICY, type Policy } from './levels.js';
import { parseRequirement, type AuthorizationInputs, type ClientAcrSettings } from './requirement.js';
import type { EnrolledFactor } from './steps.js';

// A fixed clock: events are placed "seconds ago" relative to NOW.
const NOW = 2_000_000_000;
const HOUR = 3600;
const DAY = 24 * HOUR;
const policy = DEFAULT_POLICY;
const selfEnrollmentOff: Policy = { ...policy, selfEnrollment: false };
const attestationRequired: Policy = { ...policy, levels: policy.levels.map((l) => (l.step === 'device_bound' ? { ...l, requireAttestation: true } : l)) };

function ev(factor: FactorKind, ago: number, extra: Partial<FactorEvent> = {}, now = NOW): FactorEvent {
  const e = { factor, at: now - ago, ...extra };
  return { ...e, amr: amrForEvent(e) };
}
const pwd = (ago = 60) => ev('password', ago);
const totp = (ago = 30) => ev('totp', ago, { credentialId: 'totp-1' });
const recovery = (ago = 30) => ev('recovery_code', ago);
const passkey = (ago = 10, bound = false) => ev('webauthn', ago, { credentialId: 'passkey', userVerified: true, backupEligible: !bound });
const securityKey = (ago = 10) => ev('webauthn', ago, { credentialId: 'key', userVerified: false, backupEligible: false });

// What the user has enrolled.
const PASSWORD: EnrolledFactor = { factor: 'password', credentialId: 'password' };
const TOTP: EnrolledFactor = { factor: 'totp', credentialId: 'totp-1' };
const RECOVERY: EnrolledFactor = { factor: 'recovery_code', credentialId: 'recovery_codes' };
const SYNCED_PASSKEY: EnrolledFactor = { factor: 'webauthn', credentialId: 'passkey', backupEligible: true, userVerifying: true };
const BOUND_PASSKEY: EnrolledFactor = { factor: 'webauthn', credentialId: 'passkey', backupEligible: false, userVerifying: true };
const SECURITY_KEY: EnrolledFactor = { factor: 'webauthn', credentialId: 'key', backupEligible: false, userVerifying: false };
const ATTESTED_KEY: EnrolledFactor = { ...SECURITY_KEY, attested: true };

const passwordOnly = [PASSWORD];
const withTotp = [PASSWORD, TOTP];

interface Case {
  inputs?: AuthorizationInputs;
  events: FactorEvent[];
  enrolled?: EnrolledFactor[];
  client?: ClientAcrSettings;
  policy?: Policy;
}

/** A partial decision for toMatchObject (nested arrays and objects may be partial too). */
type Expected = Record<string, unknown>;

function decide({ inputs = {}, events, enrolled = withTotp, client = {}, policy: p = policy }: Case): Decision {
  return evaluate({ policy: p, requirement: parseRequirement(p, inputs, client), events, enrolled, now: NOW });
}

describe('SPEC §2 rule 1: what is requested (unknown values ignored, the client minimum cannot be lowered)', () => {
  it.each<[string, Case, Expected]>([
    ['an unknown value next to aal2 is ignored: aal2 is asked', { inputs: { acrValues: 'gold aal2' }, events: [pwd()] }, { outcome: 'step_up', target: 'aal2' }],
    [
      'only unknown values: the request succeeds as if no acr were asked',
      { inputs: { acrValues: 'urn:unknown:gold' }, events: [pwd()] },
      { outcome: 'satisfied', acr: 'aal1', reason: 'no_acr_requested' },
    ],
    ['the client default applies when the request names none', { events: [pwd()], client: { defaultAcrValues: ['aal2'] } }, { outcome: 'step_up', target: 'aal2' }],
    ['a request for aal1 cannot lower a client minimum of aal2', { inputs: { acrValues: 'aal1' }, events: [pwd()], client: { minimumAcr: 'aal2' } }, { outcome: 'step_up', target: 'aal2' }],
    [
      'the minimum is issued when held, even though aal1 was asked',
      { inputs: { acrValues: 'aal1' }, events: [pwd(), totp()], client: { minimumAcr: 'aal2' } },
      { outcome: 'satisfied', acr: 'aal2', reason: 'already_held' },
    ],
    ['no request and a minimum: the minimum', { events: [pwd()], client: { minimumAcr: 'aal2' } }, { outcome: 'step_up', target: 'aal2' }],
    [
      'a client minimum the policy does not know fails closed',
      { inputs: { acrValues: 'aal1' }, events: [pwd()], client: { minimumAcr: 'gold' } },
      { outcome: 'unmet', reason: 'client_minimum_acr_unknown' },
    ],
  ])('%s', (_label, c, expected) => {
    expect(decide(c)).toMatchObject(expected);
  });
});

describe('SPEC §2 rule 2: a requested value already held needs no prompt; acr = the highest requested value held', () => {
  it.each<[string, Case, { acr: string; amr: string[]; authTime: number }]>([
    ['aal1 for a password session', { inputs: { acrValues: 'aal1' }, events: [pwd(60)] }, { acr: 'aal1', amr: ['pwd'], authTime: NOW - 60 }],
    ['aal1 for a password + TOTP session: only the password supports it', { inputs: { acrValues: 'aal1' }, events: [pwd(60), totp(30)] }, { acr: 'aal1', amr: ['pwd'], authTime: NOW - 30 }],
    ['"aal1 aal2" with both held: the highest, aal2', { inputs: { acrValues: 'aal1 aal2' }, events: [pwd(60), totp(30)] }, { acr: 'aal2', amr: ['pwd', 'otp', 'mfa'], authTime: NOW - 30 }],
    ['"aal2 aal1" with only aal1 held: aal1, no prompt', { inputs: { acrValues: 'aal2 aal1' }, events: [pwd(60)] }, { acr: 'aal1', amr: ['pwd'], authTime: NOW - 60 }],
    ['"phr aal2" with aal2 held: aal2, no prompt', { inputs: { acrValues: 'phr aal2' }, events: [pwd(60), totp(30)] }, { acr: 'aal2', amr: ['pwd', 'otp', 'mfa'], authTime: NOW - 30 }],
    ['aal2 for a synced passkey session: a UV passkey is both steps', { inputs: { acrValues: 'aal2' }, events: [passkey(10)] }, { acr: 'aal2', amr: ['swk', 'user', 'mfa'], authTime: NOW - 10 }],
    ['phr for a synced passkey session', { inputs: { acrValues: 'phr' }, events: [passkey(10)] }, { acr: 'phr', amr: ['swk', 'user', 'mfa'], authTime: NOW - 10 }],
    ['phrh for a device-bound passkey session', { inputs: { acrValues: 'phrh' }, events: [passkey(10, true)] }, { acr: 'phrh', amr: ['hwk', 'user', 'mfa'], authTime: NOW - 10 }],
    ['aal2 for password + recovery code', { inputs: { acrValues: 'aal2' }, events: [pwd(60), recovery(30)] }, { acr: 'aal2', amr: ['pwd', 'otp', 'mfa'], authTime: NOW - 30 }],
    [
      'an essential value held',
      { inputs: { claims: { id_token: { acr: { essential: true, values: ['phrh', 'phr'] } } } }, events: [passkey(10)] },
      { acr: 'phr', amr: ['swk', 'user', 'mfa'], authTime: NOW - 10 },
    ],
  ])('%s', (_label, c, expected) => {
    expect(decide(c)).toEqual({ outcome: 'satisfied', reason: 'already_held', held: expect.any(Array), ...expected });
  });
});

describe('SPEC §2 rule 3: the first reachable requested value; only the missing steps, with the enrolled factors that fit', () => {
  it.each<[string, Case, Partial<Extract<Decision, { outcome: 'step_up' }>>]>([
    [
      'a password session asked for aal2 sees the second factor, never the password again',
      { inputs: { acrValues: 'aal2' }, events: [pwd()] },
      { target: 'aal2', reason: 'level_not_held', held: ['aal1'], missing: [{ acr: 'aal2', step: 'second_factor', allowedFactors: ['totp'] }] },
    ],
    [
      'every enrolled factor that fits is offered',
      { inputs: { acrValues: 'aal2' }, events: [pwd()], enrolled: [PASSWORD, TOTP, SECURITY_KEY, RECOVERY] },
      { target: 'aal2', missing: [{ acr: 'aal2', step: 'second_factor', allowedFactors: ['totp', 'webauthn', 'recovery_code'] }] },
    ],
    [
      'no session asked for aal2: a primary factor, then a second factor',
      { inputs: { acrValues: 'aal2' }, events: [] },
      {
        target: 'aal2',
        reason: 'no_session',
        held: [],
        missing: [
          { acr: 'aal1', step: 'primary', allowedFactors: ['password'] },
          { acr: 'aal2', step: 'second_factor', allowedFactors: ['totp'] },
        ],
      },
    ],
    [
      'a passkey user without a password: the passkey for both steps',
      { inputs: { acrValues: 'aal2' }, events: [], enrolled: [SYNCED_PASSKEY] },
      {
        target: 'aal2',
        missing: [
          { acr: 'aal1', step: 'primary', allowedFactors: ['webauthn'] },
          { acr: 'aal2', step: 'second_factor', allowedFactors: ['webauthn'] },
        ],
      },
    ],
    ['"phr aal2" for a TOTP user: phr cannot be reached, so aal2', { inputs: { acrValues: 'phr aal2' }, events: [pwd()] }, { target: 'aal2' }],
    ['"aal2 phr" for a user with TOTP and a key: the preference order decides', { inputs: { acrValues: 'aal2 phr' }, events: [pwd()], enrolled: [PASSWORD, TOTP, SECURITY_KEY] }, { target: 'aal2' }],
    [
      'phr for a password session with a security key: WebAuthn only, for each missing step',
      { inputs: { acrValues: 'phr' }, events: [pwd()], enrolled: [PASSWORD, TOTP, SECURITY_KEY] },
      {
        target: 'phr',
        missing: [
          { acr: 'aal2', step: 'second_factor', allowedFactors: ['totp', 'webauthn'] },
          { acr: 'phr', step: 'phishing_resistant', allowedFactors: ['webauthn'] },
        ],
      },
    ],
    [
      'phr for a password + TOTP session: the WebAuthn step only',
      { inputs: { acrValues: 'phr' }, events: [pwd(), totp()], enrolled: [PASSWORD, TOTP, SYNCED_PASSKEY] },
      { target: 'phr', held: ['aal1', 'aal2'], missing: [{ acr: 'phr', step: 'phishing_resistant', allowedFactors: ['webauthn'] }] },
    ],
    [
      'a recovery code satisfies aal2 but not phr: phr is still asked',
      { inputs: { acrValues: 'phr' }, events: [pwd(), recovery()], enrolled: [PASSWORD, RECOVERY, SYNCED_PASSKEY] },
      { target: 'phr', held: ['aal1', 'aal2'], missing: [{ acr: 'phr', step: 'phishing_resistant', allowedFactors: ['webauthn'] }] },
    ],
    [
      'phrh needs a device-bound credential: a synced passkey is not offered for that step',
      { inputs: { acrValues: 'phrh' }, events: [pwd(), totp()], enrolled: [PASSWORD, TOTP, SYNCED_PASSKEY, SECURITY_KEY] },
      {
        target: 'phrh',
        missing: [
          { acr: 'phr', step: 'phishing_resistant', allowedFactors: ['webauthn'] },
          { acr: 'phrh', step: 'device_bound', allowedFactors: ['webauthn'] },
        ],
      },
    ],
    [
      'a password session asked for phrh with a device-bound passkey: every missing step, one WebAuthn tap covers them',
      { inputs: { acrValues: 'phrh' }, events: [pwd()], enrolled: [PASSWORD, BOUND_PASSKEY] },
      {
        target: 'phrh',
        held: ['aal1'],
        missing: [
          { acr: 'aal2', step: 'second_factor', allowedFactors: ['webauthn'] },
          { acr: 'phr', step: 'phishing_resistant', allowedFactors: ['webauthn'] },
          { acr: 'phrh', step: 'device_bound', allowedFactors: ['webauthn'] },
        ],
      },
    ],
    [
      'a synced passkey session asked for phrh with a security key enrolled: the device-bound step only',
      { inputs: { acrValues: 'phrh' }, events: [passkey(10)], enrolled: [SYNCED_PASSKEY, SECURITY_KEY] },
      { target: 'phrh', held: ['aal1', 'aal2', 'phr'], missing: [{ acr: 'phrh', step: 'device_bound', allowedFactors: ['webauthn'] }] },
    ],
    [
      'past the aal2 window the session steps down to aal1: an aal2 request asks for the second factor only',
      { inputs: { acrValues: 'aal2' }, events: [pwd(13 * HOUR), totp(13 * HOUR)] },
      { target: 'aal2', reason: 'level_not_held', held: ['aal1'], missing: [{ acr: 'aal2', step: 'second_factor', allowedFactors: ['totp'] }] },
    ],
    [
      'past the password window: both steps again',
      { inputs: { acrValues: 'aal2' }, events: [pwd(31 * DAY), totp(31 * DAY)] },
      { target: 'aal2', reason: 'level_not_held', held: [], missing: [{ acr: 'aal1', step: 'primary', allowedFactors: ['password'] }, { acr: 'aal2', step: 'second_factor', allowedFactors: ['totp'] }] },
    ],
    [
      'a passkey-only session past 12 h: a key without UV is the same kind, so only a UV passkey or another kind fits',
      { inputs: { acrValues: 'aal2' }, events: [passkey(13 * HOUR)], enrolled: [SYNCED_PASSKEY, SECURITY_KEY, TOTP] },
      { target: 'aal2', held: ['aal1'], missing: [{ acr: 'aal2', step: 'second_factor', allowedFactors: ['totp', 'webauthn'] }] },
    ],
  ])('%s', (_label, c, expected) => {
    expect(decide(c)).toMatchObject({ outcome: 'step_up', enrollmentAllowed: false, enroll: [], ...expected });
  });

  it('a passkey tap lifts a fresh password session to phr (synced) or phrh (device-bound)', () => {
    const asked = (acrValues: string, events: FactorEvent[]) => decide({ inputs: { acrValues }, events, enrolled: [PASSWORD, SYNCED_PASSKEY, SECURITY_KEY] });
    expect(asked('phr', [pwd()])).toMatchObject({ outcome: 'step_up', target: 'phr' });
    expect(asked('phr', [pwd(), passkey(5)])).toMatchObject({ outcome: 'satisfied', acr: 'phr' });
    expect(asked('phrh', [pwd(), passkey(5)])).toMatchObject({ outcome: 'step_up', target: 'phrh', missing: [{ step: 'device_bound' }] });
    // amr: every event supporting a step up to phrh (password, passkey, key), in the order they happened
    expect(asked('phrh', [pwd(), passkey(5), securityKey(2)])).toMatchObject({ outcome: 'satisfied', acr: 'phrh', amr: ['pwd', 'swk', 'user', 'mfa', 'hwk'] });
    expect(asked('phrh', [passkey(5, true)])).toMatchObject({ outcome: 'satisfied', acr: 'phrh', amr: ['hwk', 'user', 'mfa'] });
  });
});

describe('SPEC §2 rule 4: nothing reachable → unmet (never a lower acr than requested)', () => {
  it.each<[string, Case, string]>([
    ['a TOTP user asked for phr', { inputs: { acrValues: 'phr' }, events: [pwd()] }, 'no_enrolled_factor_for_target'],
    ['a TOTP user asked for phr with a full aal2 session', { inputs: { acrValues: 'phr' }, events: [pwd(), totp()] }, 'no_enrolled_factor_for_target'],
    ['a recovery-code user asked for phr (the code is for aal2 only)', { inputs: { acrValues: 'phr' }, events: [pwd()], enrolled: [PASSWORD, RECOVERY] }, 'no_enrolled_factor_for_target'],
    ['a synced passkey user asked for phrh', { inputs: { acrValues: 'phrh' }, events: [passkey()], enrolled: [PASSWORD, SYNCED_PASSKEY] }, 'no_enrolled_factor_for_target'],
    [
      'phrh requiring attestation, with an unattested device-bound key',
      { inputs: { acrValues: 'phrh' }, events: [pwd()], enrolled: [PASSWORD, SECURITY_KEY], policy: attestationRequired },
      'no_enrolled_factor_for_target',
    ],
    ['an account with no factor at all', { events: [], enrolled: [] }, 'no_enrolled_factor_for_target'],
    [
      'a passkey session whose passkey was removed, with only a key without UV left: not another kind',
      { inputs: { acrValues: 'aal2' }, events: [passkey(13 * HOUR)], enrolled: [SECURITY_KEY] },
      'no_enrolled_factor_for_target',
    ],
    [
      'an essential acr naming only unknown values, whatever the session holds',
      { inputs: { claims: { id_token: { acr: { essential: true, values: ['gold'] } } } }, events: [passkey(10, true)] },
      'essential_acr_unknown',
    ],
    [
      'an essential unknown acr cannot be rescued by acr_values',
      { inputs: { acrValues: 'aal1', claims: JSON.stringify({ id_token: { acr: { essential: true, value: 'gold' } } }) }, events: [pwd()] },
      'essential_acr_unknown',
    ],
  ])('%s → %s', (_label, c, reason) => {
    expect(decide(c)).toMatchObject({ outcome: 'unmet', reason });
  });

  it('phrh requiring attestation is reachable with an attested device-bound key', () => {
    expect(decide({ inputs: { acrValues: 'phrh' }, events: [pwd()], enrolled: [PASSWORD, ATTESTED_KEY], policy: attestationRequired })).toMatchObject({
      outcome: 'step_up',
      target: 'phrh',
    });
  });

  it('unmet decisions still report the held levels (for the audit trail)', () => {
    expect(decide({ inputs: { acrValues: 'phr' }, events: [pwd(), totp()] })).toEqual({ outcome: 'unmet', reason: 'no_enrolled_factor_for_target', held: ['aal1', 'aal2'] });
  });
});

describe('SPEC §2 rule 4 exception / §4: selfEnrollment of a first second factor during the step-up', () => {
  it.each<[string, Case, Decision]>([
    [
      'on: a fresh password session of a password-only user asked for aal2 may enroll a passkey, a security key or an authenticator app',
      { inputs: { acrValues: 'aal2' }, events: [pwd()], enrolled: passwordOnly },
      {
        outcome: 'step_up',
        target: 'aal2',
        reason: 'level_not_held',
        held: ['aal1'],
        enrollmentAllowed: true,
        enroll: ['passkey', 'security_key', 'totp'],
        missing: [{ acr: 'aal2', step: 'second_factor', allowedFactors: [] }],
      },
    ],
    [
      'on, no session yet: the password first, then the enrollment',
      { inputs: { acrValues: 'aal2' }, events: [], enrolled: passwordOnly },
      {
        outcome: 'step_up',
        target: 'aal2',
        reason: 'no_session',
        held: [],
        enrollmentAllowed: true,
        enroll: ['passkey', 'security_key', 'totp'],
        missing: [
          { acr: 'aal1', step: 'primary', allowedFactors: ['password'] },
          { acr: 'aal2', step: 'second_factor', allowedFactors: [] },
        ],
      },
    ],
    [
      'on, a password older than 5 minutes (SPEC §4): the password again, then the enrollment',
      { inputs: { acrValues: 'aal2' }, events: [pwd(3600)], enrolled: passwordOnly },
      {
        outcome: 'step_up',
        target: 'aal2',
        reason: 'level_not_held',
        held: ['aal1'],
        enrollmentAllowed: true,
        enroll: ['passkey', 'security_key', 'totp'],
        missing: [
          { acr: 'aal1', step: 'primary', allowedFactors: ['password'] },
          { acr: 'aal2', step: 'second_factor', allowedFactors: [] },
        ],
      },
    ],
    [
      'on, "phr aal2": phr is the first reachable value (a passkey or security key)',
      { inputs: { acrValues: 'phr aal2' }, events: [pwd()], enrolled: passwordOnly },
      {
        outcome: 'step_up',
        target: 'phr',
        reason: 'level_not_held',
        held: ['aal1'],
        enrollmentAllowed: true,
        enroll: ['passkey', 'security_key'],
        missing: [
          { acr: 'aal2', step: 'second_factor', allowedFactors: [] },
          { acr: 'phr', step: 'phishing_resistant', allowedFactors: [] },
        ],
      },
    ],
    [
      'on, phrh: only a device-bound security key can reach it',
      { inputs: { acrValues: 'phrh' }, events: [pwd()], enrolled: passwordOnly },
      {
        outcome: 'step_up',
        target: 'phrh',
        reason: 'level_not_held',
        held: ['aal1'],
        enrollmentAllowed: true,
        enroll: ['security_key'],
        missing: [
          { acr: 'aal2', step: 'second_factor', allowedFactors: [] },
          { acr: 'phr', step: 'phishing_resistant', allowedFactors: [] },
          { acr: 'phrh', step: 'device_bound', allowedFactors: [] },
        ],
      },
    ],
    [
      'on, phrh requiring attestation: nothing enrolled here is attested, so unmet',
      { inputs: { acrValues: 'phrh' }, events: [pwd()], enrolled: passwordOnly, policy: attestationRequired },
      { outcome: 'unmet', reason: 'no_enrolled_factor_for_target', held: ['aal1'] },
    ],
    ['off: unmet', { inputs: { acrValues: 'aal2' }, events: [pwd()], enrolled: passwordOnly, policy: selfEnrollmentOff }, { outcome: 'unmet', reason: 'self_enrollment_disabled', held: ['aal1'] }],
    [
      'off: a user who has a second factor is unaffected',
      { inputs: { acrValues: 'aal2' }, events: [pwd()], enrolled: withTotp, policy: selfEnrollmentOff },
      { outcome: 'step_up', target: 'aal2', reason: 'level_not_held', held: ['aal1'], enrollmentAllowed: false, enroll: [], missing: [{ acr: 'aal2', step: 'second_factor', allowedFactors: ['totp'] }] },
    ],
    [
      'recovery codes are a second factor: used, not an enrollment',
      { inputs: { acrValues: 'aal2' }, events: [pwd()], enrolled: [PASSWORD, RECOVERY] },
      {
        outcome: 'step_up',
        target: 'aal2',
        reason: 'level_not_held',
        held: ['aal1'],
        enrollmentAllowed: false, enroll: [],
        missing: [{ acr: 'aal2', step: 'second_factor', allowedFactors: ['recovery_code'] }],
      },
    ],
    [
      'a user with a second factor that cannot reach the target gets no enrollment',
      { inputs: { acrValues: 'phr' }, events: [pwd()], enrolled: withTotp },
      { outcome: 'unmet', reason: 'no_enrolled_factor_for_target', held: ['aal1'] },
    ],
  ])('%s', (_label, c, expected) => {
    expect(decide(c)).toEqual(expected);
  });
});

describe('SPEC §2 rule 5: no acr requested → the highest level held', () => {
  it.each<[string, Case, Decision]>([
    ['password + TOTP → aal2', { events: [pwd(60), totp(30)] }, { outcome: 'satisfied', acr: 'aal2', amr: ['pwd', 'otp', 'mfa'], authTime: NOW - 30, held: ['aal1', 'aal2'], reason: 'no_acr_requested' }],
    [
      'device-bound passkey → phrh',
      { events: [passkey(10, true)] },
      { outcome: 'satisfied', acr: 'phrh', amr: ['hwk', 'user', 'mfa'], authTime: NOW - 10, held: ['aal1', 'aal2', 'phr', 'phrh'], reason: 'no_acr_requested' },
    ],
    [
      'no session → a primary factor',
      { events: [] },
      { outcome: 'step_up', target: 'aal1', reason: 'no_session', held: [], enrollmentAllowed: false, enroll: [], missing: [{ acr: 'aal1', step: 'primary', allowedFactors: ['password'] }] },
    ],
    [
      'a passkey user with no session → the passkey',
      { events: [], enrolled: [SYNCED_PASSKEY, TOTP] },
      { outcome: 'step_up', target: 'aal1', reason: 'no_session', held: [], enrollmentAllowed: false, enroll: [], missing: [{ acr: 'aal1', step: 'primary', allowedFactors: ['webauthn'] }] },
    ],
    [
      'a password past its 30 days → a primary factor again',
      { events: [pwd(31 * DAY)] },
      { outcome: 'step_up', target: 'aal1', reason: 'level_not_held', held: [], enrollmentAllowed: false, enroll: [], missing: [{ acr: 'aal1', step: 'primary', allowedFactors: ['password'] }] },
    ],
  ])('%s', (_label, c, expected) => {
    expect(decide(c)).toEqual(expected);
  });
});

describe('SPEC §2 rule 6: max_age and prompt=login', () => {
  it.each<[string, Case, Expected]>([
    ['max_age met', { inputs: { maxAge: 100 }, events: [pwd(60)] }, { outcome: 'satisfied', acr: 'aal1' }],
    ['max_age met exactly at its limit', { inputs: { maxAge: 60 }, events: [pwd(60)] }, { outcome: 'satisfied', acr: 'aal1' }],
    [
      'max_age counts from the last active verification, whatever the factor',
      { inputs: { maxAge: 10, acrValues: 'aal1' }, events: [pwd(1000), totp(5)] },
      { outcome: 'satisfied', acr: 'aal1', amr: ['pwd'], authTime: NOW - 5 },
    ],
    [
      'max_age exceeded, no acr asked: a primary factor again',
      { inputs: { maxAge: 10 }, events: [pwd(60)] },
      { outcome: 'step_up', target: 'aal1', reason: 'max_age_exceeded', held: ['aal1'], missing: [{ acr: 'aal1', step: 'primary', allowedFactors: ['password'] }] },
    ],
    [
      'max_age exceeded, no acr asked, an aal2 session: still the primary factor',
      { inputs: { maxAge: 10 }, events: [pwd(60), totp(30)] },
      { outcome: 'step_up', target: 'aal1', reason: 'max_age_exceeded', missing: [{ acr: 'aal1', step: 'primary', allowedFactors: ['password'] }] },
    ],
    [
      'max_age exceeded on a held aal1: a primary factor (rule 6: "for aal1: a primary factor")',
      { inputs: { maxAge: 10, acrValues: 'aal1' }, events: [pwd(60)] },
      { outcome: 'step_up', target: 'aal1', reason: 'max_age_exceeded', missing: [{ acr: 'aal1', step: 'primary', allowedFactors: ['password'] }] },
    ],
    [
      'max_age exceeded on a held aal2: the step of aal2, the second factor',
      { inputs: { maxAge: 10, acrValues: 'aal2' }, events: [pwd(60), totp(30)] },
      { outcome: 'step_up', target: 'aal2', reason: 'max_age_exceeded', held: ['aal1', 'aal2'], missing: [{ acr: 'aal2', step: 'second_factor', allowedFactors: ['totp'] }] },
    ],
    [
      'max_age exceeded, "aal1 aal2" both held: the step of the level to be issued (aal2)',
      { inputs: { maxAge: 10, acrValues: 'aal1 aal2' }, events: [pwd(60), totp(30)] },
      { outcome: 'step_up', target: 'aal2', reason: 'max_age_exceeded', missing: [{ acr: 'aal2', step: 'second_factor' }] },
    ],
    [
      'max_age exceeded on a held phr: a WebAuthn assertion',
      { inputs: { maxAge: 10, acrValues: 'phr' }, events: [passkey(60)], enrolled: [SYNCED_PASSKEY] },
      { outcome: 'step_up', target: 'phr', reason: 'max_age_exceeded', missing: [{ acr: 'phr', step: 'phishing_resistant', allowedFactors: ['webauthn'] }] },
    ],
    [
      'max_age exceeded and aal2 not held: the missing second factor (it refreshes the session too)',
      { inputs: { maxAge: 10, acrValues: 'aal2' }, events: [pwd(60)] },
      { outcome: 'step_up', target: 'aal2', reason: 'level_not_held', missing: [{ acr: 'aal2', step: 'second_factor', allowedFactors: ['totp'] }] },
    ],
    [
      'prompt=login: every step up to the target, from scratch',
      { inputs: { prompt: 'login', acrValues: 'aal2' }, events: [pwd(), totp()] },
      {
        outcome: 'step_up',
        target: 'aal2',
        reason: 'fresh_login_requested',
        held: [],
        missing: [
          { acr: 'aal1', step: 'primary', allowedFactors: ['password'] },
          { acr: 'aal2', step: 'second_factor', allowedFactors: ['totp'] },
        ],
      },
    ],
    ['prompt=login with no acr: a primary factor', { inputs: { prompt: 'login' }, events: [passkey(1, true)] }, { outcome: 'step_up', target: 'aal1', reason: 'fresh_login_requested', held: [] }],
    ['max_age=0 equals prompt=login', { inputs: { maxAge: 0 }, events: [pwd(0)] }, { outcome: 'step_up', target: 'aal1', reason: 'fresh_login_requested', held: [] }],
    [
      'prompt=login cannot rescue an essential unknown acr',
      { inputs: { prompt: 'login', claims: { id_token: { acr: { essential: true, value: 'gold' } } } }, events: [] },
      { outcome: 'unmet', reason: 'essential_acr_unknown' },
    ],
  ])('%s', (_label, c, expected) => {
    expect(decide(c)).toMatchObject(expected);
  });

  it('after the fresh authentication (the caller passes only its events, freshLogin cleared) max_age=0 is met, even seconds later', () => {
    const requirement = parseRequirement(policy, { maxAge: 0, acrValues: 'aal2' }, {});
    const fresh = [pwd(20), totp(10)];
    expect(evaluate({ policy, requirement: { ...requirement, freshLogin: false }, events: fresh, enrolled: withTotp, now: NOW })).toMatchObject({
      outcome: 'satisfied',
      acr: 'aal2',
      authTime: NOW - 10,
    });
  });
});

describe('SPEC §2 rule 7: prompt=none', () => {
  it.each<[string, Case, Decision['outcome']]>([
    ['a held request is satisfied silently', { inputs: { prompt: 'none', acrValues: 'aal1' }, events: [pwd()] }, 'satisfied'],
    ['a request needing a step is step_up (the protocol layer answers login_required)', { inputs: { prompt: 'none', acrValues: 'aal2' }, events: [pwd()] }, 'step_up'],
    ['no session is step_up (login_required)', { inputs: { prompt: 'none' }, events: [] }, 'step_up'],
  ])('%s', (_label, c, outcome) => {
    expect(decide(c).outcome).toBe(outcome);
  });
});

describe('SPEC §1 over time: one session, a controlled clock', () => {
  const start = NOW;
  const at = (t: number, factor: FactorKind, extra: Partial<FactorEvent> = {}) => ev(factor, 0, extra, t);
  const events = [at(start, 'password'), at(start + 10, 'totp')];
  const aal2At = (now: number, evs = events) => evaluate({ policy, requirement: parseRequirement(policy, { acrValues: 'aal2' }, {}), events: evs, enrolled: withTotp, now });

  it.each<[string, number, Expected]>([
    ['right after the TOTP: aal2 held', start + 20, { outcome: 'satisfied', acr: 'aal2', authTime: start + 10 }],
    ['at the end of the aal2 window: still held', start + 10 + 12 * HOUR, { outcome: 'satisfied', acr: 'aal2' }],
    ['one second later: the second factor only', start + 11 + 12 * HOUR, { outcome: 'step_up', held: ['aal1'], missing: [{ acr: 'aal2', step: 'second_factor', allowedFactors: ['totp'] }] }],
    ['past 30 days: both steps', start + 30 * DAY + 1, { outcome: 'step_up', held: [], missing: [{ step: 'primary' }, { step: 'second_factor' }] }],
  ])('%s', (_label, now, expected) => {
    expect(aal2At(now)).toMatchObject(expected);
  });

  it('a new TOTP after the window lifts the session back to aal2', () => {
    const later = start + 13 * HOUR;
    expect(aal2At(later, [...events, at(later - 5, 'totp')])).toMatchObject({ outcome: 'satisfied', acr: 'aal2', authTime: later - 5 });
  });
});
