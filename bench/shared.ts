/** What bench/run.ts and the bare server (bench/bare-server.ts) agree on. */
export const BENCH_API_RESOURCE = 'https://api.bench.invalid';
export const BENCH_API_SCOPE = 'api:read';

export interface BareServerConfig {
  jwks: { keys: object[] };
  clients: object[];
  cookieKey: string;
  acrValues: string[];
}

/**
 * Node flags stepup runs with in production: the Dockerfile's CMD passes them, and the bench starts
 * stepup with them too (test/bench-driver.test.ts checks the two agree). V8 lets the young generation
 * grow to two 16 MiB semi-spaces, which an idle server keeps committed with about 3 MiB in use. At 8 MiB
 * each, idle RSS is about 8–10 MiB lower (issue #6, target 120 MB) for about 2 % more CPU in garbage
 * collection under load (profiles: 6 % of CPU at the default, 8 % at 8 MiB, 10 % at 4 MiB).
 */
export const PRODUCTION_NODE_FLAGS = ['--max-semi-space-size=8'];
