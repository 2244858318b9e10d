import { describe, expect, it } from '@jest/globals';
import { acrClaimRequestProblem } from './requirement.js';

/** Issue #14: a malformed acr claim request is refused, never read as "no requirement". */
describe('acrClaimRequestProblem (OIDC Core §5.5.1)', () => {
  it.each<[string, unknown]>([
    ['values as a string', { id_token: { acr: { essential: true, values: 'aal2' } } }],
    ['value as an array', { id_token: { acr: { essential: true, value: ['aal2'] } } }],
    ['essential as a string', { id_token: { acr: { essential: 'true', values: ['aal2'] } } }],
    ['essential as a number', { id_token: { acr: { essential: 1, value: 'aal2' } } }],
    ['acr as a string', { id_token: { acr: 'aal2' } }],
    ['acr as an array', { id_token: { acr: ['aal2'] } }],
    ['acr as true', { id_token: { acr: true } }],
    ['values nested in an array', { id_token: { acr: { essential: true, values: [['aal2']] } } }],
    ['values holding an object', { id_token: { acr: { essential: true, values: [{ acr: 'aal2' }] } } }],
    ['values mixing strings and numbers', { id_token: { acr: { essential: true, values: ['aal2', 3] } } }],
    ['values empty', { id_token: { acr: { essential: true, values: [] } } }],
    ['values with an empty string', { id_token: { acr: { essential: true, values: [''] } } }],
    ['value an object', { id_token: { acr: { essential: true, value: { acr: 'aal2' } } } }],
    ['value empty', { id_token: { acr: { essential: true, value: '' } } }],
    ['value and values both', { id_token: { acr: { essential: true, value: 'aal2', values: ['aal2'] } } }],
    ['essential an object', { id_token: { acr: { essential: { really: true }, values: ['aal2'] } } }],
    ['the same in userinfo', { userinfo: { acr: { essential: true, values: 'aal2' } } }],
  ])('refuses %s', (_name, claims) => {
    expect(acrClaimRequestProblem(claims)).toEqual(expect.stringMatching(/^claims\.(id_token|userinfo)\.acr/));
  });

  it.each<[string, unknown]>([
    ['essential with values', { id_token: { acr: { essential: true, values: ['aal2', 'phr'] } } }],
    ['essential with value', { id_token: { acr: { essential: true, value: 'aal2' } } }],
    ['voluntary', { id_token: { acr: { values: ['aal2'] } } }],
    ['essential false', { id_token: { acr: { essential: false, value: 'aal2' } } }],
    ['null (default manner)', { id_token: { acr: null } }],
    ['an empty object', { id_token: { acr: {} } }],
    ['unknown members, ignored as §5.5.1 says', { id_token: { acr: { essential: true, values: ['aal2'], purpose: 'payments' } } }],
    ['unknown values (rule 4 decides later)', { id_token: { acr: { essential: true, values: ['gold'] } } }],
    ['no acr at all', { id_token: { email: { essential: true } } }],
    ['userinfo only', { userinfo: { email: null } }],
    ['not an object (the protocol layer refuses it)', 'aal2'],
  ])('accepts %s', (_name, claims) => {
    expect(acrClaimRequestProblem(claims)).toBeUndefined();
  });

  it('reads only own members (a prototype cannot inject an acr)', () => {
    const claims = JSON.parse('{"id_token":{"__proto__":{"acr":"aal2"}}}');
    expect(acrClaimRequestProblem(claims)).toBeUndefined();
  });
});
