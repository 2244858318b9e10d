import { describe, expect, it } from '@jest/globals';
import { DEFAULT_POLICY } from './levels.js';
import { parseRequirement, type AuthorizationInputs, type ClientAcrSettings, type RequirementSource } from './requirement.js';

const policy = DEFAULT_POLICY;
const essential = (acr: Record<string, unknown>) => ({ id_token: { acr: { essential: true, ...acr } } });
const voluntary = (acr: Record<string, unknown>) => ({ id_token: { acr } });

describe('SPEC §2 rule 1: requested acr values', () => {
  it.each<[string, AuthorizationInputs, ClientAcrSettings, string[], RequirementSource]>([
    ['acr_values, in order of preference', { acrValues: 'aal2 aal1' }, {}, ['aal2', 'aal1'], 'acr_values'],
    ['any whitespace separates values', { acrValues: '  phr\taal2\n' }, {}, ['phr', 'aal2'], 'acr_values'],
    ['a repeated value counts once', { acrValues: 'aal2 aal2 phr' }, {}, ['aal2', 'phr'], 'acr_values'],
    ['unknown values are ignored (OIDC Core §3.1.2.1)', { acrValues: 'gold aal2 urn:x' }, {}, ['aal2'], 'acr_values'],
    ['only unknown values: as if no acr were asked (rule 5)', { acrValues: 'gold silver' }, {}, [], 'none'],
    ['values differing only in case are unknown', { acrValues: 'AAL2' }, {}, [], 'none'],
    ['absent: the client default_acr_values', {}, { defaultAcrValues: ['aal2'] }, ['aal2'], 'client_default'],
    ['blank acr_values count as absent', { acrValues: '   ' }, { defaultAcrValues: ['phr', 'aal2'] }, ['phr', 'aal2'], 'client_default'],
    ['client defaults are filtered to known values too', {}, { defaultAcrValues: ['gold', 'aal2'] }, ['aal2'], 'client_default'],
    ['present acr_values, even all unknown, replace the client defaults', { acrValues: 'gold' }, { defaultAcrValues: ['aal2'] }, [], 'none'],
    ['nothing asked, no default, no minimum', {}, {}, [], 'none'],
    // the client minimum (enforced server-side; a request cannot lower it)
    ['values below the client minimum are dropped', { acrValues: 'aal1 phr' }, { minimumAcr: 'aal2' }, ['phr'], 'acr_values'],
    ['the minimum itself stays', { acrValues: 'aal2 aal1' }, { minimumAcr: 'aal2' }, ['aal2'], 'acr_values'],
    ['nothing left: the minimum is the target', { acrValues: 'aal1' }, { minimumAcr: 'aal2' }, ['aal2'], 'client_minimum'],
    ['only unknown values and a minimum: the minimum', { acrValues: 'gold' }, { minimumAcr: 'phr' }, ['phr'], 'client_minimum'],
    ['nothing asked and a minimum: the minimum', {}, { minimumAcr: 'aal2' }, ['aal2'], 'client_minimum'],
    ['client defaults below the minimum: the minimum', {}, { defaultAcrValues: ['aal1'], minimumAcr: 'aal2' }, ['aal2'], 'client_minimum'],
    // the claims parameter's id_token.acr
    ['an essential value takes precedence over acr_values', { acrValues: 'aal1', claims: essential({ value: 'aal2' }) }, {}, ['aal2'], 'claims_essential'],
    ['acr_values cannot cancel an essential acr', { acrValues: 'aal1 aal2', claims: essential({ value: 'phr' }) }, {}, ['phr'], 'claims_essential'],
    ['essential values, in order, from a JSON string', { claims: JSON.stringify(essential({ values: ['phr', 'aal2'] })) }, {}, ['phr', 'aal2'], 'claims_essential'],
    ['essential values: unknown ones are ignored when a known one remains', { claims: essential({ values: ['gold', 'aal2'] }) }, {}, ['aal2'], 'claims_essential'],
    ['essential values win over value when both are sent', { claims: essential({ value: 'aal1', values: ['phr'] }) }, {}, ['phr'], 'claims_essential'],
    ['essential values below the minimum are dropped', { claims: essential({ values: ['aal1', 'phr'] }) }, { minimumAcr: 'aal2' }, ['phr'], 'claims_essential'],
    ['an essential value below the minimum: the minimum', { claims: essential({ value: 'aal1' }) }, { minimumAcr: 'aal2' }, ['aal2'], 'client_minimum'],
    ['essential without a value asks for no particular level', { acrValues: 'aal2', claims: essential({}) }, {}, ['aal2'], 'acr_values'],
    ['a voluntary acr claim behaves like acr_values', { claims: voluntary({ values: ['aal2', 'aal1'] }) }, {}, ['aal2', 'aal1'], 'claims'],
    ['essential: false is voluntary', { claims: voluntary({ essential: false, value: 'aal2' }) }, {}, ['aal2'], 'claims'],
    ['acr_values win over a voluntary claim', { acrValues: 'aal1', claims: voluntary({ value: 'phr' }) }, {}, ['aal1'], 'acr_values'],
    ['a voluntary claim wins over client defaults', { claims: voluntary({ value: 'phr' }) }, { defaultAcrValues: ['aal1'] }, ['phr'], 'claims'],
    // garbage is ignored (the protocol layer validates the claims parameter before us)
    ['claims that are not JSON', { claims: '{not json', acrValues: 'aal1' }, {}, ['aal1'], 'acr_values'],
    ['claims that are a number', { claims: 42, acrValues: 'aal1' }, {}, ['aal1'], 'acr_values'],
    ['claims that are an array', { claims: [essential({ value: 'phr' })], acrValues: 'aal1' }, {}, ['aal1'], 'acr_values'],
    ['id_token that is a string', { claims: { id_token: 'acr' }, acrValues: 'aal1' }, {}, ['aal1'], 'acr_values'],
    ['acr: null (a plain claim request)', { claims: { id_token: { acr: null } }, acrValues: 'aal1' }, {}, ['aal1'], 'acr_values'],
    ['non-string values are skipped', { claims: essential({ values: [1, null, 'aal2'] }) }, {}, ['aal2'], 'claims_essential'],
    ['an inherited id_token is not a claims request', { claims: Object.create({ id_token: { acr: { essential: true, value: 'phr' } } }), acrValues: 'aal1' }, {}, ['aal1'], 'acr_values'],
  ])('%s', (_label, inputs, client, requested, source) => {
    const r = parseRequirement(policy, inputs, client);
    expect(r.requested).toEqual(requested);
    expect(r.source).toBe(source);
    expect(r.unmetReason).toBeUndefined();
  });

  it.each<[string, AuthorizationInputs, boolean]>([
    ['an essential claim', { claims: essential({ value: 'aal2' }) }, true],
    ['acr_values', { acrValues: 'aal2' }, false],
    ['a voluntary claim', { claims: voluntary({ value: 'aal2' }) }, false],
  ])('essential is set only by %s → %s', (_label, inputs, expected) => {
    expect(parseRequirement(policy, inputs, {}).essential).toBe(expected);
  });
});

describe('SPEC §2 rule 4: requests that can never be met', () => {
  it.each<[string, AuthorizationInputs, ClientAcrSettings, string]>([
    ['an essential value that is unknown', { claims: essential({ value: 'gold' }) }, {}, 'essential_acr_unknown'],
    ['essential values that are all unknown', { claims: essential({ values: ['gold', 'silver'] }) }, {}, 'essential_acr_unknown'],
    ['…even next to known acr_values', { acrValues: 'aal1', claims: essential({ values: ['gold'] }) }, {}, 'essential_acr_unknown'],
    ['…even when the client has a minimum', { claims: essential({ value: 'gold' }) }, { minimumAcr: 'aal2' }, 'essential_acr_unknown'],
    ['a client minimum the policy does not know (fail closed)', { acrValues: 'aal1' }, { minimumAcr: 'gold' }, 'client_minimum_acr_unknown'],
  ])('%s → %s', (_label, inputs, client, reason) => {
    const r = parseRequirement(policy, inputs, client);
    expect(r.unmetReason).toBe(reason);
    expect(r.requested).toEqual([]);
  });
});

describe('SPEC §2 rule 6: freshness inputs', () => {
  it.each<[string, AuthorizationInputs, boolean, number | undefined]>([
    ['prompt=login', { prompt: 'login' }, true, undefined],
    ['prompt=consent login', { prompt: 'consent login' }, true, undefined],
    ['prompt=none', { prompt: 'none' }, false, undefined],
    ['prompt=relogin is not login', { prompt: 'relogin' }, false, undefined],
    ['max_age=0 equals prompt=login', { maxAge: 0 }, true, undefined],
    ['max_age=300', { maxAge: 300 }, false, 300],
    ['max_age=300 with prompt=login', { maxAge: 300, prompt: 'login' }, true, 300],
    ['a fractional max_age rounds down (stricter)', { maxAge: 1.7 }, false, 1],
    ['a negative max_age is not a max age', { maxAge: -1 }, false, undefined],
    ['NaN is not a max age', { maxAge: Number.NaN }, false, undefined],
    ['nothing', {}, false, undefined],
  ])('%s → freshLogin %s, maxAge %s', (_label, inputs, freshLogin, maxAge) => {
    const r = parseRequirement(policy, inputs, {});
    expect(r.freshLogin).toBe(freshLogin);
    expect(r.maxAge).toBe(maxAge);
  });
});
