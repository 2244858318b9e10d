import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { ResourceSigningAlgs } from '../config/env.js';
import { clientApiScopes, type ClientInstance } from './client-metadata.js';
import { DEFAULT_ACCESS_TOKEN_SIGNING_ALG, type SigningAlgorithm } from './signing-keys.js';

/**
 * Resource indicators (RFC 8707) and JWT access tokens (RFC 9068). The admin API is a resource of the
 * issuer itself whose only scope is `admin`, reserved for clients registered with that scope. Any other
 * absolute URL is accepted as an audience; its scopes are the client's registered non-OIDC scopes.
 *
 * Issue #14: the signature algorithm is the resource server's choice, since it is what verifies the
 * token: RESOURCE_SIGNING_ALGS names it per resource (`*` for every other one), RS256 otherwise
 * (RFC 9068 §4: every resource server supports RS256). The admin API is verified by stepup itself and
 * uses ES256, the cheaper signature.
 */
export const ACCESS_TOKEN_TTL_SECONDS = 600;
const OIDC_SCOPES = new Set(['openid', 'offline_access', 'profile', 'email', 'address', 'phone']);

export const adminApiResource = (issuer: string) => `${issuer}/admin/api`;
const ADMIN_API_SIGNING_ALG: SigningAlgorithm = 'ES256';

/** The algorithm a resource's JWT access tokens are signed with. */
export function accessTokenSigningAlg(resource: string, configured: ResourceSigningAlgs): SigningAlgorithm {
  return configured.get(resource) ?? configured.get('*') ?? DEFAULT_ACCESS_TOKEN_SIGNING_ALG;
}

export function createResourceIndicators(issuer: string, signingAlgs: ResourceSigningAlgs = new Map()) {
  return {
    enabled: true,
    defaultResource(ctx: KoaContextWithOIDC) {
      // client credentials without `resource`: an admin client gets a token for the admin API
      if (ctx.oidc.params?.grant_type === 'client_credentials' && clientApiScopes(ctx.oidc.client as ClientInstance | undefined).includes('admin')) {
        return adminApiResource(issuer);
      }
      return undefined as unknown as string;
    },
    useGrantedResource: () => true,
    async getResourceServerInfo(_ctx: KoaContextWithOIDC, resourceIndicator: string, client: ClientInstance): Promise<ResourceServer> {
      const scopes = clientApiScopes(client).filter((s) => !OIDC_SCOPES.has(s));
      if (resourceIndicator === adminApiResource(issuer)) {
        // only clients registered with scope admin may even ask for a token for the admin API
        if (!scopes.includes('admin')) throw new errors.InvalidTarget('this client may not request tokens for the admin API');
        return {
          scope: 'admin',
          audience: resourceIndicator,
          accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: ADMIN_API_SIGNING_ALG } },
        };
      }
      return {
        scope: scopes.filter((s) => s !== 'admin').join(' '),
        audience: resourceIndicator,
        accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: accessTokenSigningAlg(resourceIndicator, signingAlgs) } },
      };
    },
  };
}
