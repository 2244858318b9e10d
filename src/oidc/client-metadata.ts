import type { ClientAcrSettings } from '../stepup/index.js';

/**
 * Reading a registered client's metadata from an oidc-provider Client instance. The instance holds the
 * standard properties camel-cased and extraClientMetadata under their own (snake_case) names;
 * Client#metadata() rebuilds and snake-cases the whole object on every call, which issue #6's profile
 * found on the token endpoint (twice per client-credentials request) and on every interaction request.
 */
export interface ClientInstance {
  defaultAcrValues?: unknown;
  minimum_acr?: unknown;
  api_scopes?: unknown;
}

/** The API scopes a client was registered with (`stepup client create --scope`, metadata `api_scopes`). */
export function clientApiScopes(client: ClientInstance | undefined): string[] {
  const scopes = client?.api_scopes;
  return typeof scopes === 'string' ? scopes.split(' ').filter(Boolean) : [];
}

/** `default_acr_values` and `minimum_acr` (SPEC §2). */
export function clientAcrSettings(client: ClientInstance | undefined): ClientAcrSettings {
  const defaults = client?.defaultAcrValues;
  const minimum = client?.minimum_acr;
  return {
    defaultAcrValues: Array.isArray(defaults) ? (defaults as string[]) : undefined,
    minimumAcr: typeof minimum === 'string' ? minimum : undefined,
  };
}
