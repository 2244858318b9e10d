/** What bench/run.ts and the bare server (bench/bare-server.ts) agree on. */
export const BENCH_API_RESOURCE = 'https://api.bench.invalid';
export const BENCH_API_SCOPE = 'api:read';

export interface BareServerConfig {
  jwks: { keys: object[] };
  clients: object[];
  cookieKey: string;
  acrValues: string[];
}
