import type { ClientsRepo, ClientRecord } from '../store/clients.repo.js';

/**
 * The account page signs people in through stepup's own /auth, as a client of itself (like
 * Keycloak's account console), so every level and freshness rule comes from the same engine.
 * The client is built in, not stored: it cannot be edited, deleted or given a secret.
 */
export const ACCOUNT_CLIENT_ID = 'stepup-account';

export function accountClient(issuer: string): ClientRecord {
  return {
    clientId: ACCOUNT_CLIENT_ID,
    clientName: 'Your stepup account',
    redirectUris: [`${issuer}/account/callback`],
    postLogoutRedirectUris: [`${issuer}/account`],
    grantTypes: ['authorization_code'],
    defaultAcrValues: [],
    // verified by stepup itself: the cheaper signature (issue #14)
    idTokenSignedResponseAlg: 'ES256',
  };
}

/** Clients as oidc-provider sees them: the built-in ones first, then those in Postgres. */
export function withBuiltInClients(clients: ClientsRepo, builtIn: ClientRecord[]): ClientsRepo {
  const byId = new Map(builtIn.map((c) => [c.clientId, c]));
  return { ...clients, find: async (clientId: string) => byId.get(clientId) ?? clients.find(clientId) };
}
