import { Provider, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { ClientRecord, ClientsRepo } from '../store/clients.repo.js';

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
  } as AdapterPayload;
}

export function createClientAdapter(clients: ClientsRepo): Adapter {
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
