import * as oidc from 'openid-client';
import autocannon from 'autocannon';
import { totpCodeAt, TOTP_PERIOD_SECONDS } from '../src/factors/totp/totp.js';
import { Browser, type Page } from '../test/support/browser.js';
import { finish, isCallback, startAuthorization } from '../test/support/rp.js';

/**
 * The load side of the benchmark. Multi-step flows (sign-in with password and TOTP, step-up) are
 * driven by a purpose-written closed loop: each worker runs one flow after the other, as a browser
 * would (cookies, the form's CSRF field, PKCE), and the RP redeems the code with openid-client, which
 * also validates the ID token. Single-request endpoints are driven by autocannon.
 */
export interface BenchUser {
  email: string;
  password: string;
  totpSecret: string;
  /** last TOTP time step used: a step is accepted once per credential (SPEC §3) */
  lastStep: number;
}

export interface Stat {
  count: number;
  errors: number;
  seconds: number;
  p50: number;
  p99: number;
  firstError?: string;
}

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN);
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Runs `once` in `concurrency` workers until `until()` says stop; latency per completed run. */
export async function closedLoop(concurrency: number, until: (started: number) => boolean, once: (worker: number) => Promise<void>): Promise<Stat> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (!until(started)) {
        started++;
        const t = performance.now();
        try {
          await once(worker);
          latencies.push(performance.now() - t);
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message.slice(0, 300);
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { count: latencies.length, errors, seconds: round(seconds, 2), p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), firstError };
}

export const forDuration = (ms: number) => {
  const end = Date.now() + ms;
  return () => Date.now() >= end;
};
export const forCount = (n: number) => (started: number) => started >= n;

const currentStep = () => Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS);

/**
 * The next user whose TOTP credential has not been used in the current time step. When every user
 * has, the worker waits for the next step (the pool is too small for the rate: it shows as a lower
 * rate, not as errors). `singleUse: false` (the bare provider checks no code) takes users round-robin.
 */
export async function takeUser(pool: BenchUser[], opts: { singleUse?: boolean } = {}): Promise<BenchUser> {
  for (;;) {
    const step = currentStep();
    const user = opts.singleUse === false ? pool[0] : pool.find((u) => u.lastStep < step);
    if (user) {
      user.lastStep = step;
      // to the end of the pool: users are taken round-robin
      pool.splice(pool.indexOf(user), 1);
      pool.push(user);
      return user;
    }
    await new Promise((r) => setTimeout(r, (step + 1) * TOTP_PERIOD_SECONDS * 1000 - Date.now() + 50));
  }
}

export interface Target {
  issuer: string;
  config: oidc.Configuration;
}

export type Tokens = Awaited<ReturnType<typeof finish>>;

function expectCallback(page: Page, what: string): void {
  if (!isCallback(page)) throw new Error(`${what}: expected the RP callback, got ${page.status} at ${page.url}: ${page.html.replace(/\s+/g, ' ').slice(0, 200)}`);
  const error = new URL(page.url).searchParams.get('error');
  if (error) throw new Error(`${what}: ${error}: ${new URL(page.url).searchParams.get('error_description')}`);
}

function expectAcr(tokens: Tokens, acr: string): Tokens {
  const got = tokens.claims()?.acr;
  if (got !== acr) throw new Error(`expected acr ${acr}, got ${got}`);
  return tokens;
}

/** Full sign-in with step-up: /auth (acr_values=aal2) → password → TOTP → code → token exchange. */
export async function fullLogin(target: Target, user: BenchUser): Promise<Tokens> {
  const browser = new Browser(target.issuer);
  const started = await startAuthorization(target.config, { acr_values: 'aal2' });
  const loginPage = await browser.follow(started.url.toString());
  const codePage = await browser.submit(loginPage, '/password', { email: user.email, password: user.password });
  const callback = await browser.submit(codePage, '/totp', { code: await totpCodeAt(user.totpSecret, Math.floor(Date.now() / 1000)) });
  expectCallback(callback, 'full login');
  return expectAcr(await finish(target.config, started, callback.url), 'aal2');
}

/** A signed-in aal1 session (password only): the starting point of a step-up. */
export async function passwordSession(target: Target, user: BenchUser): Promise<{ browser: Browser; tokens: Tokens }> {
  const browser = new Browser(target.issuer);
  const started = await startAuthorization(target.config);
  const loginPage = await browser.follow(started.url.toString());
  const callback = await browser.submit(loginPage, '/password', { email: user.email, password: user.password });
  expectCallback(callback, 'password login');
  return { browser, tokens: expectAcr(await finish(target.config, started, callback.url), 'aal1') };
}

/** Step-up only: a signed-in aal1 session asked for aal2 → TOTP → code → token. */
export async function stepUp(target: Target, browser: Browser, user: BenchUser): Promise<Tokens> {
  const started = await startAuthorization(target.config, { acr_values: 'aal2' });
  const codePage = await browser.follow(started.url.toString());
  if (codePage.html.includes('type="password"')) throw new Error('step-up asked for the password again');
  user.lastStep = currentStep();
  const callback = await browser.submit(codePage, '/totp', { code: await totpCodeAt(user.totpSecret, Math.floor(Date.now() / 1000)) });
  expectCallback(callback, 'step-up');
  return expectAcr(await finish(target.config, started, callback.url), 'aal2');
}

export interface CannonRequest {
  path: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** builds the body per request from the connection's own context (e.g. a rotating refresh token) */
  setup?: (context: Record<string, unknown>) => string;
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
}

/** One endpoint under autocannon for `seconds`; requests that did not answer 2xx count as errors. */
export async function cannon(origin: string, req: CannonRequest, connections: number, seconds: number): Promise<Stat> {
  const result = await autocannon({
    url: origin + req.path,
    connections,
    duration: seconds,
    requests: [
      {
        method: req.method ?? 'GET',
        path: req.path,
        headers: req.headers,
        body: req.body,
        ...(req.setup
          ? {
              setupRequest: (r: autocannon.Request, context: Record<string, unknown>) => ({ ...r, body: req.setup!(context) }),
            }
          : {}),
        ...(req.onResponse ? { onResponse: req.onResponse } : {}),
      } as autocannon.Request,
    ],
  });
  const ok = result['2xx'];
  return {
    count: ok,
    errors: result.non2xx + result.errors + result.timeouts,
    seconds: round(result.duration, 2),
    p50: result.latency.p50,
    p99: result.latency.p99,
    ...(result.non2xx + result.errors ? { firstError: `${result.non2xx} non-2xx, ${result.errors} errors` } : {}),
  };
}
