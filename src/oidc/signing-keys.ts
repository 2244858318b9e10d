import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { SigningKeysRepo } from '../store/signing-keys.repo.js';

/**
 * Signing keys (issue #2): generated on first start and kept in Postgres so restarts and several
 * instances share them. ES256 signs by default (about 5x faster than RS256 here); RS256 is published
 * too because OIDC Core §15.1 makes it mandatory to support.
 */
export const SIGNING_ALGORITHMS = ['ES256', 'RS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/**
 * What a client's ID tokens are signed with when it names no algorithm: RS256, as OpenID Connect
 * Dynamic Client Registration §2 (`id_token_signed_response_alg`) says, and what RPs such as
 * express-openid-connect and mod_auth_openidc expect unless told otherwise (issue #14). ES256 is
 * selectable per client and is about 5x cheaper to sign.
 */
export const DEFAULT_ID_TOKEN_SIGNING_ALG: SigningAlgorithm = 'RS256';

/**
 * JWT access tokens (RFC 9068) for a resource not configured otherwise: RS256, the one algorithm
 * RFC 9068 §4 requires every resource server to support. RESOURCE_SIGNING_ALGS selects ES256 per resource.
 */
export const DEFAULT_ACCESS_TOKEN_SIGNING_ALG: SigningAlgorithm = 'RS256';

export const isSigningAlgorithm = (v: unknown): v is SigningAlgorithm => SIGNING_ALGORITHMS.includes(v as SigningAlgorithm);

/** A retired key stays published this long: longer than any token it can have signed (refresh-issued ID tokens included). */
export const RETIRED_KEY_PUBLISH_SECONDS = 24 * 3600;

async function generate(alg: (typeof SIGNING_ALGORITHMS)[number]) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  const kid = `${alg.toLowerCase()}-${randomUUID()}`;
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateJwk, publicJwk };
}

async function generateSet() {
  return Promise.all(SIGNING_ALGORITHMS.map(generate));
}

/**
 * Creates the first key set if there is none, and an active key for any algorithm that lacks one
 * (issue #14: RS256 clients and resources need the RSA key; oidc-provider would fail at signing time).
 * Returns true when keys were created.
 */
export async function ensureSigningKeys(repo: SigningKeysRepo): Promise<boolean> {
  const active = (await repo.listPublished()).filter((k) => !k.retiredAt);
  if (active.length === 0) return repo.addAndRetire(await generateSet(), true);
  const missing = SIGNING_ALGORITHMS.filter((alg) => !active.some((k) => k.alg === alg));
  if (missing.length === 0) return false;
  return repo.addMissing(await Promise.all(missing.map(generate)));
}

/** `stepup keys rotate`: a new key per algorithm becomes active; the old ones stay published for a while. */
export async function rotateSigningKeys(repo: SigningKeysRepo, now = new Date()): Promise<{ added: string[]; pruned: number }> {
  const set = await generateSet();
  await repo.addAndRetire(set, false);
  const pruned = await repo.pruneRetiredBefore(new Date(now.getTime() - RETIRED_KEY_PUBLISH_SECONDS * 1000));
  return { added: set.map((k) => k.kid), pruned };
}

/**
 * The JWKS handed to oidc-provider: active keys first (oidc-provider signs with the first key of an
 * algorithm), then retired ones so tokens they signed still verify.
 */
export async function loadProviderJwks(repo: SigningKeysRepo): Promise<{ keys: JWK[] }> {
  const keys = await repo.listPublished();
  const active = keys.filter((k) => !k.retiredAt);
  const retired = keys.filter((k) => k.retiredAt);
  return { keys: [...active, ...retired].map((k) => k.privateJwk) };
}
