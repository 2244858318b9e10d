import type { ClientRecord } from '../store/clients.repo.js';

/**
 * The admin UI signs admins in through stepup's own /auth as this built-in client (like Keycloak's
 * admin console), so the session's level and every step-up come from the same engine as for any RP.
 * Built in, not stored: it cannot be edited, deleted or given a secret (see RESERVED_CLIENT_IDS).
 */
export const ADMIN_CLIENT_ID = 'stepup-admin';

export function adminClient(issuer: string): ClientRecord {
  return {
    clientId: ADMIN_CLIENT_ID,
    clientName: 'stepup admin',
    redirectUris: [`${issuer}/admin/callback`],
    postLogoutRedirectUris: [`${issuer}/admin/signed-out`],
    grantTypes: ['authorization_code'],
    defaultAcrValues: [],
    // verified by stepup itself: the cheaper signature (issue #14)
    idTokenSignedResponseAlg: 'ES256',
  };
}
