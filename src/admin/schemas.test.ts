import { describe, expect, it } from '@jest/globals';
import { clientCreateInput, clientRuleViolations, clientSettings, totpImportInput } from './schemas.js';

const ACR = ['aal1', 'aal2', 'phr', 'phrh'];
const settings = (over: Record<string, unknown>) => clientSettings.parse(over);

describe('client rules (the CLI rules, SPEC §7)', () => {
  it.each([
    ['code flow without redirect URIs', settings({}), true, ['redirect_uris']],
    ['client credentials for a public client', settings({ grant_types: ['client_credentials'] }), false, ['grant_types']],
    ['refresh_token without the code flow', settings({ grant_types: ['refresh_token', 'client_credentials'] }), true, ['grant_types']],
    ['unknown acr values', settings({ redirect_uris: ['https://a.example/cb'], default_acr_values: ['aal2', 'gold'], minimum_acr: 'silver' }), true, ['default_acr_values/1', 'minimum_acr']],
    ['a valid code-flow client', settings({ redirect_uris: ['https://a.example/cb'], default_acr_values: ['aal2'], minimum_acr: 'aal1' }), true, []],
    ['a valid service client', settings({ grant_types: ['client_credentials'], scope: 'admin' }), true, []],
  ])('%s', (_name, input, confidential, paths) => {
    expect(clientRuleViolations(input, confidential, ACR).map((v) => v.path)).toEqual(paths);
  });

  it('refuses the built-in ids, fragments and script URLs', () => {
    expect(clientCreateInput.safeParse({ client_id: 'stepup-admin' }).success).toBe(false);
    expect(clientCreateInput.safeParse({ client_id: 'ok', redirect_uris: ['https://a.example/cb#x'] }).success).toBe(false);
    expect(clientCreateInput.safeParse({ client_id: 'ok', redirect_uris: ['javascript:alert(1)'] }).success).toBe(false);
    expect(clientCreateInput.safeParse({ client_id: 'ok', redirect_uris: ['com.example.app:/cb'] }).success).toBe(true);
    expect(clientCreateInput.safeParse({ client_id: 'ok', extra: 1 }).success).toBe(false);
  });
});

describe('TOTP import', () => {
  it('normalises a base32 secret (case, spaces, padding) and refuses short or non-base32 ones', () => {
    expect(totpImportInput.parse({ secret: 'jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp==' }).secret).toBe('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
    expect(totpImportInput.safeParse({ secret: 'JBSWY3DPEHPK3PXP' }).success).toBe(false); // 80 bits
    expect(totpImportInput.safeParse({ secret: 'JBSWY3DPEHPK3PXP1BSWY3DPEHPK3PXP' }).success).toBe(false); // 1 is not base32
    expect(totpImportInput.parse({ secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' }).label).toBe('Authenticator app');
  });
});
