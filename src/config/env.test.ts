import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './env.js';

const good = { COOKIE_KEYS: 'k'.repeat(32), ENCRYPTION_KEY: 'ab'.repeat(32), DATA_DIR: '/tmp/stepup-config-test' };

describe('configuration (SPEC §6)', () => {
  it('has the documented defaults', () => {
    const c = loadConfig(good);
    expect(c).toMatchObject({ issuer: 'http://localhost:3000', port: 3000, databaseUrl: undefined, trustProxy: false, logLevel: 'info' });
    expect(c.cookieKeys).toEqual(['k'.repeat(32)]);
    expect(c.redis).toEqual({ tls: false });
  });

  it('issue #17: the management interface listens on 127.0.0.1:9000 unless told otherwise; 0 picks a free port', () => {
    expect(loadConfig(good)).toMatchObject({ managementPort: 9000, managementHost: '127.0.0.1' });
    expect(loadConfig({ ...good, MANAGEMENT_PORT: '0', MANAGEMENT_HOST: '0.0.0.0' })).toMatchObject({ managementPort: 0, managementHost: '0.0.0.0' });
  });

  it('without ISSUER the issuer follows PORT (issue #15), so printed links and discovery agree', () => {
    expect(loadConfig({ ...good, PORT: '4123' }).issuer).toBe('http://localhost:4123');
    expect(loadConfig({ ...good, PORT: '4123', ISSUER: 'https://id.example.com' }).issuer).toBe('https://id.example.com');
  });

  it('production refuses to start without the required variables and names them', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', COOKIE_KEYS: 'k'.repeat(32) })).toThrow(/DATABASE_URL, REDIS_URL \(or REDIS_SENTINELS or REDIS_CLUSTER_NODES\), ENCRYPTION_KEY/);
  });

  it.each([
    ['ENCRYPTION_KEY', { ENCRYPTION_KEY: 'nothex' }, /ENCRYPTION_KEY: must be 64 hex/],
    ['COOKIE_KEYS', { COOKIE_KEYS: `${'k'.repeat(32)},short` }, /COOKIE_KEYS: every comma-separated key/],
    ['ISSUER', { ISSUER: 'localhost:3000/x?y' }, /ISSUER/],
    ['PORT', { PORT: '70000' }, /PORT/],
    ['MANAGEMENT_PORT', { MANAGEMENT_PORT: '-1' }, /MANAGEMENT_PORT/],
    ['MANAGEMENT_PORT (the public port)', { PORT: '8080', MANAGEMENT_PORT: '8080' }, /MANAGEMENT_PORT must differ from PORT/],
    ['TRUST_PROXY', { TRUST_PROXY: 'maybe' }, /TRUST_PROXY/],
    ['RESOURCE_SIGNING_ALGS (no =)', { RESOURCE_SIGNING_ALGS: 'https://api.example' }, /RESOURCE_SIGNING_ALGS: "https:\/\/api.example" is not RESOURCE=ALG/],
    ['RESOURCE_SIGNING_ALGS (alg)', { RESOURCE_SIGNING_ALGS: 'https://api.example=HS256' }, /RESOURCE_SIGNING_ALGS: "HS256" is not one of ES256, RS256/],
    ['RESOURCE_SIGNING_ALGS (resource)', { RESOURCE_SIGNING_ALGS: 'api=ES256' }, /RESOURCE_SIGNING_ALGS: "api" is not an absolute URL/],
  ])('a bad %s fails with a message naming it', (_name, env, message) => {
    expect(() => loadConfig({ ...good, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...good, ...env })).toThrow(message);
  });

  it('reads a Sentinel and a Cluster location (issue #18)', () => {
    const sentinel = loadConfig({ ...good, REDIS_SENTINELS: 'redis-a:26379, [::1]:26380', REDIS_SENTINEL_NAME: 'stepup', REDIS_SENTINEL_PASSWORD: 's', REDIS_PASSWORD: 'p' });
    expect(sentinel.redis).toMatchObject({ sentinels: [{ host: 'redis-a', port: 26379 }, { host: '::1', port: 26380 }], sentinelName: 'stepup', sentinelPassword: 's', password: 'p' });
    const cluster = loadConfig({ ...good, REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7000', REDIS_TLS: 'true' });
    expect(cluster.redis).toMatchObject({ clusterNodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7000 }], tls: true });
    // production accepts any of the three locations
    expect(() => loadConfig({ ...good, NODE_ENV: 'production', DATABASE_URL: 'postgres://x/y', REDIS_CLUSTER_NODES: 'r:7000' })).not.toThrow();
  });

  it.each([
    [{ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'r:7000' }, /one of REDIS_URL, REDIS_CLUSTER_NODES/],
    [{ REDIS_SENTINELS: 'r:26379' }, /REDIS_SENTINEL_NAME/],
    [{ REDIS_CLUSTER_NODES: 'r' }, /REDIS_CLUSTER_NODES: "r" is not host:port/],
    [{ REDIS_SENTINELS: 'r:99999', REDIS_SENTINEL_NAME: 'm' }, /REDIS_SENTINELS/],
    [{ REDIS_URL: 'http://r' }, /REDIS_URL: must be a redis/],
    [{ REDIS_KEY_PREFIX: '{stepup}:' }, /REDIS_KEY_PREFIX: must not contain/],
    [{ REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' }, /REDIS_TLS_CA_FILE: no such file/],
  ])('a bad Redis location %o fails with a message naming it', (env, message) => {
    expect(() => loadConfig({ ...good, ...env })).toThrow(message);
  });

  it('splits cookie keys newest first and reads TRUST_PROXY', () => {
    const c = loadConfig({ ...good, COOKIE_KEYS: `${'a'.repeat(32)}, ${'b'.repeat(40)}`, TRUST_PROXY: 'true', ISSUER: 'https://id.example.com/' });
    expect(c.cookieKeys).toEqual(['a'.repeat(32), 'b'.repeat(40)]);
    expect(c.trustProxy).toBe(true);
    expect(c.issuer).toBe('https://id.example.com');
  });

  it('reads RESOURCE_SIGNING_ALGS per resource (issue #14); the algorithm follows the last =', () => {
    const c = loadConfig({ ...good, RESOURCE_SIGNING_ALGS: 'https://api.example/v1?x=1=ES256, *=RS256' });
    expect([...c.resourceSigningAlgs]).toEqual([
      ['https://api.example/v1?x=1', 'ES256'],
      ['*', 'RS256'],
    ]);
    expect(loadConfig(good).resourceSigningAlgs.size).toBe(0);
  });
});
