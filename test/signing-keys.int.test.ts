import { afterAll, describe, expect, it } from '@jest/globals';
import { decodeProtectedHeader } from 'jose';
import { rotateSigningKeys } from '../src/oidc/signing-keys.js';
import { Browser } from './support/browser.js';
import { dropIsolation, newIsolation } from './support/env.js';
import { createConfidentialClient, createUser, discover, finish, passwordLogin, startAuthorization } from './support/rp.js';
import { startServer } from './support/server.js';

/** Signing keys live in Postgres: instances share them, and rotation keeps old public keys published. */
const iso = newIsolation();
afterAll(() => dropIsolation(iso));

const jwksOf = async (issuer: string) => ((await (await fetch(`${issuer}/jwks`)).json()) as { keys: Array<{ kid: string; alg: string; d?: string }> }).keys;

describe('signing keys', () => {
  it('two instances on the same stores publish the same keys', async () => {
    const a = await startServer(iso);
    const b = await startServer(iso);
    try {
      const ka = (await jwksOf(a.issuer)).map((k) => k.kid).sort();
      expect(ka).toHaveLength(2);
      expect((await jwksOf(b.issuer)).map((k) => k.kid).sort()).toEqual(ka);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('after rotation new tokens use the new key and the old public key stays published', async () => {
    let server = await startServer(iso);
    const user = await createUser(server.app);
    const rp = await createConfidentialClient(server.app);
    let config = await discover(server.issuer, rp.clientId, rp.clientSecret);
    const first = await startAuthorization(config);
    const before = await finish(config, first, (await passwordLogin(new Browser(server.issuer), first, user.email, user.password)).url);
    const oldKid = decodeProtectedHeader(before.id_token!).kid!;

    const rotated = await rotateSigningKeys(server.app.stores.signingKeys);
    expect(rotated.added).toHaveLength(2);
    await server.close();
    server = await startServer(iso); // instances pick up keys at start (README: restart after `keys rotate`)
    try {
      const published = await jwksOf(server.issuer);
      expect(published.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, ...rotated.added]));
      for (const k of published) expect(k.d).toBeUndefined();

      config = await discover(server.issuer, rp.clientId, rp.clientSecret);
      const second = await startAuthorization(config);
      const after = await finish(config, second, (await passwordLogin(new Browser(server.issuer), second, user.email, user.password)).url);
      const newKid = decodeProtectedHeader(after.id_token!).kid!;
      expect(rotated.added).toContain(newKid);
      expect(newKid).not.toBe(oldKid);
      expect(decodeProtectedHeader(after.id_token!).alg).toBe('RS256'); // the client registered no algorithm: RS256 (issue #14)
    } finally {
      await server.close();
    }
  });

  it('stores private keys sealed, never in clear', async () => {
    const server = await startServer(iso);
    try {
      const rows = await server.app.stores.db('signing_keys').select('private_jwk_sealed', 'public_jwk');
      for (const r of rows as Array<{ private_jwk_sealed: string; public_jwk: { d?: string } }>) {
        expect(r.private_jwk_sealed).toMatch(/^v1\./);
        expect(r.private_jwk_sealed).not.toContain('"d"');
        expect(r.public_jwk.d).toBeUndefined();
      }
      const clientRows = await server.app.stores.db('clients').select('client_secret_sealed').whereNotNull('client_secret_sealed');
      for (const r of clientRows as Array<{ client_secret_sealed: string }>) expect(r.client_secret_sealed).toMatch(/^v1\./);
    } finally {
      await server.close();
    }
  });

  it('adds an active key for an algorithm that has none (RS256 clients need the RSA key, issue #14)', async () => {
    let server = await startServer(iso);
    await server.app.stores.db('signing_keys').where({ alg: 'RS256' }).whereNull('retired_at').update({ retired_at: new Date() });
    await server.close();
    server = await startServer(iso);
    try {
      const active = (await server.app.stores.signingKeys.listPublished()).filter((k) => !k.retiredAt);
      expect(active.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
      const rsa = active.find((k) => k.alg === 'RS256')!;
      expect((await jwksOf(server.issuer)).map((k) => k.kid)).toContain(rsa.kid);
      // an RS256 client signs with it
      const user = await createUser(server.app);
      const rp = await createConfidentialClient(server.app);
      const config = await discover(server.issuer, rp.clientId, rp.clientSecret);
      const started = await startAuthorization(config);
      const tokens = await finish(config, started, (await passwordLogin(new Browser(server.issuer), started, user.email, user.password)).url);
      expect(decodeProtectedHeader(tokens.id_token!)).toMatchObject({ alg: 'RS256', kid: rsa.kid });
    } finally {
      await server.close();
    }
  });
});
