import { describe, expect, it } from '@jest/globals';
import type { ClientRecord } from '../store/clients.repo.js';
import { cacheClientLookups, createClientAdapter, withClientCache } from './client-adapter.js';

/** Issue #6: client records are not read from Postgres on every token call, within a bounded staleness. */
function fakeRepo(initial: ClientRecord[] = []) {
  const records = new Map(initial.map((c) => [c.clientId, c]));
  const calls: string[] = [];
  let release: (() => void) | undefined;
  return {
    records,
    calls,
    /** when set, every lookup waits for releaseHeld(), to observe concurrent misses */
    held: false,
    releaseHeld: () => release?.(),
    async find(clientId: string) {
      calls.push(clientId);
      if (this.held) await new Promise<void>((resolve) => (release = resolve));
      return records.get(clientId);
    },
  };
}

const client = (clientId: string, secret = 's'.repeat(32)): ClientRecord => ({
  clientId,
  clientSecret: secret,
  redirectUris: ['https://rp.example/cb'],
  postLogoutRedirectUris: [],
  grantTypes: ['authorization_code', 'refresh_token'],
  defaultAcrValues: [],
});

describe('client lookups (cacheClientLookups)', () => {
  it('reads a found client once per cache period, then again once it is over', async () => {
    const repo = fakeRepo([client('rp')]);
    let now = 1_000_000;
    const lookup = cacheClientLookups(repo, { ttlSeconds: 5, nowMs: () => now });
    expect((await lookup.find('rp'))?.clientId).toBe('rp');
    expect((await lookup.find('rp'))?.clientId).toBe('rp');
    now += 4_999;
    await lookup.find('rp');
    expect(repo.calls).toEqual(['rp']);

    // a change (here: a new secret) is seen once the period is over
    repo.records.set('rp', client('rp', 'n'.repeat(32)));
    now += 2;
    expect((await lookup.find('rp'))?.clientSecret).toBe('n'.repeat(32));
    expect(repo.calls).toEqual(['rp', 'rp']);
  });

  it('does not remember unknown ids: a client created right after a miss is found at once', async () => {
    const repo = fakeRepo();
    const lookup = cacheClientLookups(repo);
    expect(await lookup.find('new')).toBeUndefined();
    repo.records.set('new', client('new'));
    expect((await lookup.find('new'))?.clientId).toBe('new');
    expect(repo.calls).toEqual(['new', 'new']);
  });

  it('forget() drops a record at once', async () => {
    const repo = fakeRepo([client('rp')]);
    const lookup = cacheClientLookups(repo);
    await lookup.find('rp');
    repo.records.delete('rp');
    lookup.forget('rp');
    expect(await lookup.find('rp')).toBeUndefined();
  });

  it('concurrent misses of one id share a single query', async () => {
    const repo = fakeRepo([client('rp')]);
    repo.held = true;
    const lookup = cacheClientLookups(repo);
    const all = Promise.all(Array.from({ length: 10 }, () => lookup.find('rp')));
    await new Promise((r) => setImmediate(r));
    repo.releaseHeld();
    const found = await all;
    expect(found.every((c) => c?.clientId === 'rp')).toBe(true);
    expect(repo.calls).toEqual(['rp']);
  });

  it('holds at most maxEntries records, dropping the oldest', async () => {
    const repo = fakeRepo(['a', 'b', 'c'].map((id) => client(id)));
    const lookup = cacheClientLookups(repo, { maxEntries: 2 });
    await lookup.find('a');
    await lookup.find('b');
    await lookup.find('c'); // evicts a
    await lookup.find('b');
    await lookup.find('c');
    await lookup.find('a');
    expect(repo.calls).toEqual(['a', 'b', 'c', 'a']);
  });
});

describe('client adapter', () => {
  it('serves the cached record, shaped per request (a confidential client without a request context uses client_secret_post)', async () => {
    const repo = fakeRepo([client('rp')]);
    const adapter = createClientAdapter(cacheClientLookups(repo));
    const first = await adapter.find('rp');
    const second = await adapter.find('rp');
    expect(first).toMatchObject({ client_id: 'rp', token_endpoint_auth_method: 'client_secret_post' });
    expect(second).toEqual(first);
    expect(repo.calls).toEqual(['rp']);
    expect(await adapter.find('x'.repeat(201))).toBeUndefined();
  });
});

describe('withClientCache: changes through the repository are seen at once in this process', () => {
  it('a rotated secret, an edit or a removal drops the cached record', async () => {
    const repo = fakeRepo([client('rp')]);
    const store = {
      ...repo,
      find: (id: string) => repo.find(id),
      create: async (c: ClientRecord) => c,
      list: async () => [...repo.records.values()],
      count: async () => repo.records.size,
      update: async (id: string, c: Omit<ClientRecord, 'clientId' | 'clientSecret'>) => {
        const next = { ...repo.records.get(id)!, ...c };
        repo.records.set(id, next);
        return next;
      },
      setSecret: async (id: string, secret: string) => {
        repo.records.set(id, { ...repo.records.get(id)!, clientSecret: secret });
        return true;
      },
      remove: async (id: string) => repo.records.delete(id),
    };
    const clients = withClientCache(store as never, { ttlSeconds: 3600 });
    await clients.find('rp');
    await clients.setSecret('rp', 'n'.repeat(32));
    expect((await clients.find('rp'))?.clientSecret).toBe('n'.repeat(32));
    await clients.update('rp', { ...client('rp'), clientName: 'Renamed' });
    expect((await clients.find('rp'))?.clientName).toBe('Renamed');
    await clients.remove('rp');
    expect(await clients.find('rp')).toBeUndefined();
  });
});

describe('toClientMetadata (issue #14)', () => {
  it('signs ID tokens with RS256 unless the client registered ES256, and UserInfo only when asked', async () => {
    const { toClientMetadata } = await import('./client-adapter.js');
    expect(toClientMetadata(client('rp'))).toMatchObject({ id_token_signed_response_alg: 'RS256' });
    expect(toClientMetadata(client('rp'))).not.toHaveProperty('userinfo_signed_response_alg');
    expect(toClientMetadata({ ...client('rp'), idTokenSignedResponseAlg: 'ES256', userinfoSignedResponseAlg: 'RS256' })).toMatchObject({
      id_token_signed_response_alg: 'ES256',
      userinfo_signed_response_alg: 'RS256',
    });
  });
});
