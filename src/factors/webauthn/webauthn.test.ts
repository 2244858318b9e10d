import { describe, expect, it } from '@jest/globals';
import { generateAuthenticationOptions } from '@simplewebauthn/server';
import { authenticationOptions, relyingPartyFor } from './webauthn.js';

/** Assertion options are built without @simplewebauthn/server (issue #6: loaded lazily): the same shape it makes. */
describe('authenticationOptions', () => {
  const rp = relyingPartyFor('https://id.example.com');
  const allow = [{ credentialId: 'AAECAwQFBgcICQ', transports: ['usb', 'nfc'] }];

  it.each([true, false])('matches generateAuthenticationOptions (user verification required: %s)', async (requireUserVerification) => {
    const ours = await authenticationOptions({ rp, allow, requireUserVerification });
    const theirs = await generateAuthenticationOptions({
      rpID: rp.id,
      allowCredentials: allow.map((c) => ({ id: c.credentialId, transports: c.transports as never })),
      userVerification: requireUserVerification ? 'required' : 'preferred',
      timeout: ours.timeout,
    });
    expect(JSON.parse(JSON.stringify({ ...ours, challenge: 'x' }))).toEqual(JSON.parse(JSON.stringify({ ...theirs, challenge: 'x' })));
    expect(Buffer.from(ours.challenge, 'base64url')).toHaveLength(32);
    expect(ours.challenge).not.toBe((await authenticationOptions({ rp, allow, requireUserVerification })).challenge);
  });

  it('names no credential for a passkey sign-in, and refuses an id that is not base64url', async () => {
    expect((await authenticationOptions({ rp, allow: [], requireUserVerification: true })).allowCredentials).toEqual([]);
    await expect(authenticationOptions({ rp, allow: [{ credentialId: 'not base64url!', transports: [] }], requireUserVerification: true })).rejects.toThrow('base64url');
  });
});
