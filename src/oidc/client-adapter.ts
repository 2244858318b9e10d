import { Provider, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { ClientRecord, ClientsRepo } from '../store/clients.repo.js';
import { DEFAULT_ID_TOKEN_SIGNING_ALG } from './signing-keys.js';

/**
 * Clients are read from Postgres (issue #2). A confidential client may authenticate at the token,
 * introspection and revocation endpoints with client_secret_basic, client_secret_post or
 * client_secret_jwt: oidc-provider accepts only the registered method, so the record is shaped per
 * request from the method the request actually uses (like Keycloak's "client secret" authenticator).
 */
function requestedAuthMethod(): string {
  const ctx = Provider.ctx as { headers?: Record<string, string | undefined>; oidc?: { body?: Record<string, unknown> } } | undefined;
  if (ctx?.headers?.authorization?.toLowerCase().startsWith('basic ')) return 'client_secret_basic';
  if (ctx?.oidc?.body?.client_assertion) return 'client_secret_jwt';
  return 'client_secret_post';
}

export function toClientMetadata(c: ClientRecord): AdapterPayload {
  const usesCode = c.grantTypes.includes('authorization_code');
  return {
    client_id: c.clientId,
    ...(c.clientSecret ? { client_secret: c.clientSecret } : {}),
    client_name: c.clientName,
    redirect_uris: c.redirectUris,
    post_logout_redirect_uris: c.postLogoutRedirectUris,
    grant_types: c.grantTypes,
    response_types: usesCode ? ['code'] : [],
    token_endpoint_auth_method: c.clientSecret ? requestedAuthMethod() : 'none',
    // registered scopes are API (resource server) scopes such as `admin`; oidc-provider's `scope` metadata
    // may only list its own OIDC scopes, so they travel as stepup metadata read by resources.ts
    ...(c.scope ? { api_scopes: c.scope } : {}),
    ...(c.defaultAcrValues.length ? { default_acr_values: c.defaultAcrValues } : {}),
    ...(c.minimumAcr ? { minimum_acr: c.minimumAcr } : {}),
    // issue #14: per client, RS256 unless registered otherwise (OIDC Dynamic Client Registration §2)
    id_token_signed_response_alg: c.idTokenSignedResponseAlg ?? DEFAULT_ID_TOKEN_SIGNING_ALG,
    ...(c.userinfoSignedResponseAlg ? { userinfo_signed_response_alg: c.userinfoSignedResponseAlg } : {}),
  } as AdapterPayload;
}

/**
 * Clients are read on every token, introspection and userinfo call; before this cache each read was a
 * Postgres round trip plus an AES-GCM open of the secret (issue #6 profile). Clients change rarely, so
 * a found record is reused for CLIENT_CACHE_SECONDS: a client changed or removed with the CLI takes
 * effect on every instance within that time. Unknown ids are not cached (a client created a moment
 * ago is found at once), concurrent misses share one query, and the cache holds at most
 * CLIENT_CACHE_MAX_ENTRIES records (oldest dropped first), so random client_ids cannot grow it.
 */
export const CLIENT_CACHE_SECONDS = 5;
export const CLIENT_CACHE_MAX_ENTRIES = 1000;

export interface ClientLookup {
  find(clientId: string): Promise<ClientRecord | undefined>;
  /** drops a cached record at once (for changes made in this process) */
  forget(clientId: string): void;
}

export function cacheClientLookups(
  clients: Pick<ClientsRepo, 'find'>,
  opts: { ttlSeconds?: number; maxEntries?: number; nowMs?: () => number } = {},
): ClientLookup {
  const ttlMs = (opts.ttlSeconds ?? CLIENT_CACHE_SECONDS) * 1000;
  const maxEntries = opts.maxEntries ?? CLIENT_CACHE_MAX_ENTRIES;
  const nowMs = opts.nowMs ?? Date.now;
  const cache = new Map<string, { record: ClientRecord; expiresAt: number }>();
  const inFlight = new Map<string, Promise<ClientRecord | undefined>>();
  return {
    async find(clientId) {
      const hit = cache.get(clientId);
      if (hit && hit.expiresAt > nowMs()) return hit.record;
      const pending = inFlight.get(clientId);
      if (pending) return pending;
      const lookup = clients
        .find(clientId)
        .then((record) => {
          cache.delete(clientId);
          if (record) {
            cache.set(clientId, { record, expiresAt: nowMs() + ttlMs });
            // Map keeps insertion order: the first key is the oldest entry
            if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
          }
          return record;
        })
        .finally(() => inFlight.delete(clientId));
      inFlight.set(clientId, lookup);
      return lookup;
    },
    forget(clientId) {
      cache.delete(clientId);
    },
  };
}

/**
 * The clients repository with cached reads: a change made through it (admin UI or API) drops the cached
 * record at once in this process; other instances see it within CLIENT_CACHE_SECONDS.
 */
export function withClientCache(clients: ClientsRepo, opts: Parameters<typeof cacheClientLookups>[1] = {}): ClientsRepo {
  const lookup = cacheClientLookups(clients, opts);
  const thenForget = async <T>(clientId: string, change: Promise<T>): Promise<T> => {
    try {
      return await change;
    } finally {
      lookup.forget(clientId);
    }
  };
  return {
    ...clients,
    find: (clientId) => lookup.find(clientId),
    update: (clientId, c) => thenForget(clientId, clients.update(clientId, c)),
    setSecret: (clientId, secret) => thenForget(clientId, clients.setSecret(clientId, secret)),
    remove: (clientId) => thenForget(clientId, clients.remove(clientId)),
  };
}

export function createClientAdapter(clients: Pick<ClientsRepo, 'find'>): Adapter {
  const readOnly = async () => {
    throw new Error('clients are managed with the stepup CLI or admin API');
  };
  return {
    async find(id: string) {
      // Postgres text cannot hold NUL: such an id cannot exist, and querying it would fail (a 500, found by fuzzing)
      if (typeof id !== 'string' || id.length > 200 || id.includes('\u0000')) return undefined;
      const record = await clients.find(id);
      return record ? toClientMetadata(record) : undefined;
    },
    upsert: readOnly,
    destroy: readOnly,
    consume: readOnly,
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    revokeByGrantId: async () => undefined,
  };
}
