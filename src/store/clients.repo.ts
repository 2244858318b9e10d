import type { Sealer } from '../crypto/encryption.js';
import { DEFAULT_ID_TOKEN_SIGNING_ALG, type SigningAlgorithm } from '../oidc/signing-keys.js';
import type { Db } from './db.js';

export interface ClientRecord {
  clientId: string;
  /** plain secret, only in memory (sealed in the database) */
  clientSecret?: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  scope?: string;
  defaultAcrValues: string[];
  minimumAcr?: string;
  clientName?: string;
  /** ID token signature (OIDC Dynamic Client Registration §2); unset: RS256, the standard's default */
  idTokenSignedResponseAlg?: SigningAlgorithm;
  /** signed UserInfo responses (OIDC Core §5.3.2); unset: plain JSON */
  userinfoSignedResponseAlg?: SigningAlgorithm;
}

interface ClientRow {
  client_id: string;
  client_secret_sealed: string | null;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  scope: string | null;
  default_acr_values: string[];
  minimum_acr: string | null;
  client_name: string | null;
  id_token_signed_response_alg: SigningAlgorithm;
  userinfo_signed_response_alg: SigningAlgorithm | null;
}

export class DuplicateClientError extends Error {}

// the sealed secret is bound to its client id, so a row's ciphertext cannot be moved to another client
const secretContext = (clientId: string) => `client_secret:${clientId}`;

/** The columns a client's editable fields are stored in (everything but the id and the secret). */
const editableColumns = (c: Omit<ClientRecord, 'clientId' | 'clientSecret'>) => ({
  redirect_uris: JSON.stringify(c.redirectUris),
  post_logout_redirect_uris: JSON.stringify(c.postLogoutRedirectUris),
  grant_types: JSON.stringify(c.grantTypes),
  scope: c.scope ?? null,
  default_acr_values: JSON.stringify(c.defaultAcrValues),
  minimum_acr: c.minimumAcr ?? null,
  client_name: c.clientName ?? null,
  id_token_signed_response_alg: c.idTokenSignedResponseAlg ?? DEFAULT_ID_TOKEN_SIGNING_ALG,
  userinfo_signed_response_alg: c.userinfoSignedResponseAlg ?? null,
});

export function createClientsRepo(db: Db, sealer: Sealer) {
  const toRecord = (r: ClientRow): ClientRecord => ({
    clientId: r.client_id,
    clientSecret: r.client_secret_sealed ? sealer.open(r.client_secret_sealed, secretContext(r.client_id)) : undefined,
    redirectUris: r.redirect_uris,
    postLogoutRedirectUris: r.post_logout_redirect_uris,
    grantTypes: r.grant_types,
    scope: r.scope ?? undefined,
    defaultAcrValues: r.default_acr_values,
    minimumAcr: r.minimum_acr ?? undefined,
    clientName: r.client_name ?? undefined,
    idTokenSignedResponseAlg: r.id_token_signed_response_alg,
    userinfoSignedResponseAlg: r.userinfo_signed_response_alg ?? undefined,
  });

  return {
    async create(c: ClientRecord): Promise<ClientRecord> {
      try {
        await db('clients').insert({
          client_id: c.clientId,
          client_secret_sealed: c.clientSecret ? sealer.seal(c.clientSecret, secretContext(c.clientId)) : null,
          ...editableColumns(c),
        });
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw new DuplicateClientError(`client ${c.clientId} exists`);
        throw err;
      }
      return c;
    },
    async find(clientId: string): Promise<ClientRecord | undefined> {
      const row = await db<ClientRow>('clients').where({ client_id: clientId }).first();
      return row ? toRecord(row) : undefined;
    },
    async list(): Promise<ClientRecord[]> {
      const rows = await db<ClientRow>('clients').orderBy('created_at', 'asc');
      return rows.map(toRecord);
    },
    /** Replaces the editable fields (not the id, not the secret: see setSecret). */
    async update(clientId: string, c: Omit<ClientRecord, 'clientId' | 'clientSecret'>): Promise<ClientRecord | undefined> {
      const rows = await db<ClientRow>('clients')
        .where({ client_id: clientId })
        .update({ ...editableColumns(c), updated_at: db.fn.now() } as never)
        .returning('*');
      return rows[0] ? toRecord(rows[0] as ClientRow) : undefined;
    },
    /** A new secret (sealed); the old one stops working at once. */
    async setSecret(clientId: string, secret: string): Promise<boolean> {
      const n = await db('clients').where({ client_id: clientId }).update({ client_secret_sealed: sealer.seal(secret, secretContext(clientId)), updated_at: db.fn.now() });
      return n === 1;
    },
    async remove(clientId: string): Promise<boolean> {
      return (await db('clients').where({ client_id: clientId }).delete()) === 1;
    },
    async count(): Promise<number> {
      const [row] = await db('clients').count<{ count: string }[]>({ count: '*' });
      return Number(row?.count ?? 0);
    },
  };
}

export type ClientsRepo = ReturnType<typeof createClientsRepo>;
