import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { hashRecoveryCode, newRecoveryCodes } from '../../src/factors/recovery-codes/recovery-codes.js';
import { TOTP_PERIOD_SECONDS, totpCodeAt } from '../../src/factors/totp/totp.js';
import { createLogger } from '../../src/ops/logger.js';
import { Browser, type Page } from '../support/browser.js';
import { enrollTotp } from '../support/factors.js';
import { hashPassword } from '../../src/factors/password/password.js';
import { createConfidentialClient, discover, finish, isCallback, RP_REDIRECT, startAuthorization } from '../support/rp.js';

/**
 * Shared pieces of the fault tests (issue #7): an environment for stepup on the disposable stores,
 * seeding through an in-process app, and a steady login load whose every attempt is classified.
 */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function faultEnv(issuer: string, databaseUrl: string, redisUrl: string): Record<string, string> {
  return {
    ISSUER: issuer,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: 'stepup:',
    COOKIE_KEYS: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
    DATA_DIR: `/tmp/stepup-fault-data-${randomBytes(4).toString('hex')}`,
  };
}

export interface SeededUser {
  id: string;
  email: string;
  password: string;
  secret: string;
  factorId: string;
  recoveryCodes: string[];
  /** how many of recoveryCodes the load has spent (each works once) */
  recoveryCodesUsed: number;
  /** the next TOTP time step this user may present (each step is accepted once) */
  nextStep: number;
  busy: boolean;
}

/** Migrates the stores and creates one confidential client and `users` users with TOTP and recovery codes. */
export async function seed(env: Record<string, string>, users: number) {
  const app = await createApp(loadConfig(env), { logger: createLogger('silent') });
  try {
    const client = await createConfidentialClient(app);
    const seeded: SeededUser[] = [];
    const password = 'correct horse battery staple';
    const passwordHash = await hashPassword(password); // hashed once: argon2 per user would make seeding slow
    for (let i = 0; i < users; i++) {
      const account = await app.stores.accounts.create({ email: `fault-${i}-${randomBytes(4).toString('hex')}@example.com`, name: 'Fault User', passwordHash });
      const user = { ...account, password };
      const totp = await enrollTotp(app, user.id);
      const codes = newRecoveryCodes();
      await app.stores.recoveryCodes.replace(user.id, codes.map(hashRecoveryCode));
      seeded.push({ id: user.id, email: user.email, password: user.password, secret: totp.secret, factorId: totp.factorId, recoveryCodes: codes, recoveryCodesUsed: 0, nextStep: 0, busy: false });
    }
    return { client, users: seeded };
  } finally {
    await app.close();
  }
}

export type Outcome = 'ok' | 'unavailable' | 'other';

export interface Attempt {
  outcome: Outcome;
  startedAt: number;
  endedAt: number;
  detail?: string;
  acr?: string;
}

const AAL2 = { acr_values: 'aal2', claims: { id_token: { acr: { essential: true, values: ['aal2'] } } } };

/** A store outage seen from the browser: a 503 page, or the RP told temporarily_unavailable. */
export function unavailable(page: Page): boolean {
  if (page.status === 503) return true;
  if (isCallback(page)) return new URL(page.url).searchParams.get('error') === 'temporarily_unavailable';
  return false;
}

const isPasswordPage = (p: Page) => p.html.includes('autocomplete="current-password"');
const isTotpPage = (p: Page) => /action="\/interaction\/[^"]+\/totp"/.test(p.html) && !p.html.includes('name="enroll"');
const describe = (p: Page) => `${p.status} ${p.url} ${/<p[^>]*>([^<]{0,200})/.exec(p.html)?.[1] ?? ''}`.trim();

/**
 * One full aal2 sign-in as a browser does it (password, then a TOTP code), then the code exchange by
 * the RP. 'ok' only with an ID token whose acr is aal2: anything lower would be a fail-open.
 */
export async function aal2Login(issuer: string, config: oidc.Configuration, users: SeededUser[], browser = new Browser(issuer)): Promise<Attempt> {
  // each user may present a TOTP time step once: a user with a step free now, else one with a recovery code left
  const canTotp = (u: SeededUser) => u.nextStep <= currentStep() + 1;
  const canRecover = (u: SeededUser) => u.recoveryCodesUsed < u.recoveryCodes.length;
  let user: SeededUser | undefined;
  while (!(user = users.find((u) => !u.busy && canTotp(u)) ?? users.find((u) => !u.busy && canRecover(u)))) await sleep(100);
  user.busy = true;
  const startedAt = Date.now();
  const done = (outcome: Outcome, detail?: string, acr?: string): Attempt => ({ outcome, startedAt, endedAt: Date.now(), detail, acr });
  try {
    const started = await startAuthorization(config, AAL2);
    let page = await browser.follow(started.url.toString());
    if (unavailable(page)) return done('unavailable', describe(page));
    if (!isPasswordPage(page)) return done('other', `expected the password page: ${describe(page)}`);
    page = await browser.submit(page, '/password', { email: user.email, password: user.password });
    if (unavailable(page)) return done('unavailable', describe(page));
    if (!isTotpPage(page)) return done('other', `expected the TOTP page: ${describe(page)}`);
    if (canTotp(user)) {
      // RFC 6238 replay protection: a step is accepted once, so each attempt presents a step not used before
      const step = Math.max(user.nextStep, currentStep());
      user.nextStep = step + 1;
      page = await browser.submit(page, '/totp', { code: await totpCodeAt(user.secret, step * TOTP_PERIOD_SECONDS) });
    } else {
      // "Use a recovery code instead", then the code, then continue (also aal2)
      const uid = /\/interaction\/([^/"]+)\/totp/.exec(page.html)![1]!;
      page = await browser.submit(page, `/interaction/${uid}`, { use: 'recovery_code' });
      if (unavailable(page)) return done('unavailable', describe(page));
      if (!/\/recovery"/.test(page.html)) return done('other', `expected the recovery code page: ${describe(page)}`);
      page = await browser.submit(page, '/recovery', { code: user.recoveryCodes[user.recoveryCodesUsed++]! });
      if (unavailable(page)) return done('unavailable', describe(page));
      if (page.status !== 200 || !/recovery codes? left/.test(page.html)) return done('other', `recovery code refused: ${describe(page)}`);
      page = await browser.submit(page, `/interaction/${uid}`);
    }
    if (unavailable(page)) return done('unavailable', describe(page));
    if (!isCallback(page)) return done('other', `expected the RP callback: ${describe(page)}`);
    if (new URL(page.url).searchParams.get('error')) return done('other', `RP got ${page.url}`);
    try {
      const tokens = await finish(config, started, page.url);
      const acr = tokens.claims()?.acr;
      return done(acr === 'aal2' ? 'ok' : 'other', acr === 'aal2' ? undefined : `ID token acr ${String(acr)}`, String(acr));
    } catch (err) {
      // openid-client: ResponseBodyError (an OAuth error body) or an error whose cause is the Response
      const e = err as { error?: string; status?: number; message?: string; cause?: unknown };
      const res = e.cause instanceof Response ? e.cause : undefined;
      const status = e.status ?? res?.status;
      if (e.error === 'temporarily_unavailable' || status === 503) return done('unavailable', `token endpoint: ${status} ${e.error ?? ''}`);
      const body = res ? await res.text().catch(() => '') : '';
      return done('other', `token endpoint: ${status} ${e.error ?? e.message} ${body.slice(0, 300)}`);
    }
  } catch (err) {
    return done('other', `request failed: ${(err as Error).message}`);
  } finally {
    user.busy = false;
  }
}

/** With the browser's existing session: prompt=none asking aal2 must give an aal2 ID token. */
export async function silentAal2(config: oidc.Configuration, browser: Browser): Promise<string> {
  const started = await startAuthorization(config, { ...AAL2, prompt: 'none' });
  const page = await browser.follow(started.url.toString());
  if (!isCallback(page)) return `no callback: ${describe(page)}`;
  const error = new URL(page.url).searchParams.get('error');
  if (error) return error;
  const acr = (await finish(config, started, page.url)).claims()?.acr;
  return acr === 'aal2' ? 'ok' : `acr ${acr}`;
}

const currentStep = () => Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS);

/** a steady load, not a flood: the machine is shared, and the codes each user may use are finite */
const PACE_MS = 100;

/** `workers` loops of aal2Login until stop() is called; every attempt is recorded. */
export function steadyLoad(issuer: string, config: oidc.Configuration, users: SeededUser[], workers: number) {
  const attempts: Attempt[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const attempt = await aal2Login(issuer, config, users);
      attempts.push(attempt);
      await sleep(PACE_MS);
      // back off a little after an outage answer, like a person pressing reload
      if (attempt.outcome !== 'ok') await sleep(250);
    }
  });
  return {
    attempts,
    async stop() {
      running = false;
      await Promise.all(loops);
      return attempts;
    },
  };
}

export { discover, RP_REDIRECT };
