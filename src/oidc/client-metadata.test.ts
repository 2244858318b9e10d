import { describe, expect, it } from '@jest/globals';
import Provider from 'oidc-provider';
import { clientAcrSettings, clientApiScopes, type ClientInstance } from './client-metadata.js';

/**
 * The helpers read the camel-cased properties of oidc-provider's Client instance instead of calling
 * Client#metadata() (issue #6). This checks, against the real library, that the instance carries them.
 */
async function clientWith(metadata: Record<string, unknown>): Promise<ClientInstance> {
  const provider = new Provider('http://localhost:3000', {
    acrValues: ['aal1', 'aal2'],
    extraClientMetadata: { properties: ['minimum_acr', 'api_scopes'] },
    clients: [{ client_id: 'c', client_secret: 's'.repeat(32), redirect_uris: ['https://rp.example/cb'], ...metadata }],
  });
  const client = await provider.Client.find('c');
  if (!client) throw new Error('client not found');
  return client as unknown as ClientInstance;
}

describe('client metadata read from the Client instance', () => {
  it('reads api_scopes, default_acr_values and minimum_acr as metadata() would give them', async () => {
    const client = await clientWith({ api_scopes: 'admin api:read', default_acr_values: ['aal2'], minimum_acr: 'aal1' });
    const metadata = (client as unknown as { metadata(): Record<string, unknown> }).metadata();
    expect(metadata.api_scopes).toBe('admin api:read');
    expect(clientApiScopes(client)).toEqual(['admin', 'api:read']);
    expect(clientAcrSettings(client)).toEqual({ defaultAcrValues: ['aal2'], minimumAcr: 'aal1' });
  });

  it('gives nothing for a client registered without them', async () => {
    const client = await clientWith({});
    expect(clientApiScopes(client)).toEqual([]);
    expect(clientAcrSettings(client)).toEqual({ defaultAcrValues: undefined, minimumAcr: undefined });
    expect(clientApiScopes(undefined)).toEqual([]);
  });
});
