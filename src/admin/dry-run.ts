import { acrClaimRequestProblem } from '../stepup/requirement.js';
import { evaluate, explain, parsePolicy, parseSessionSpec, type AuthorizationInputs, type ClientAcrSettings, type EnrolledFactor, type Policy, type Trace } from '../stepup/index.js';
import type { Account } from '../store/accounts.repo.js';
import type { ClientRecord } from '../store/clients.repo.js';

/**
 * Issue #19, the policy dry-run: "what would this client asking for this get for this user, with the
 * user's enrolled factors and a session holding these events, at time T, under this policy?" It reads
 * the account, its factors and the client, and answers with explain()'s Trace: the structure the admin's
 * decision trace shows for real sign-ins. It writes nothing and starts no sign-in. Shared by the admin
 * API (POST /admin/api/policy/explain) and the CLI (`stepup policy explain`).
 */
export interface DryRunDeps {
  policy: Policy;
  findAccount(idOrEmail: string): Promise<Account | undefined>;
  findClient(clientId: string): Promise<ClientRecord | undefined>;
  enrolledFactors(accountId: string): Promise<EnrolledFactor[]>;
  /** every account, for --all-users */
  listAccounts(): Promise<Account[]>;
  now(): number;
}

export interface DryRunInput {
  /** account id or email */
  user?: string;
  clientId?: string;
  acrValues?: string;
  /** the claims parameter: an object or its JSON text */
  claims?: unknown;
  maxAge?: number;
  prompt?: string;
  /** ISO 8601 time; absent: now */
  at?: string;
  /** factor events of the session, relative to `at`: "password@-10m,totp@-5m" */
  session?: string;
  /** a candidate policy (the policy file's JSON); absent: the configured one */
  policy?: unknown;
}

/** Bad input, named by the field it came from; `status` 404 for an unknown user or client. */
export class DryRunError extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly status: 400 | 404 = 400,
  ) {
    super(message);
  }
}

export interface DryRunResult {
  user: { id: string; email: string };
  client: { id: string; name: string | null };
  at: string;
  policy: 'configured' | 'given';
  trace: Trace;
}

export interface LevelReach {
  acr: string;
  /** with the factors the account has now */
  reachable: number;
  /** only by enrolling a first second factor during the step-up (SPEC §4, selfEnrollment) */
  byEnrolling: number;
  unreachable: number;
  /** a few of the accounts that cannot reach it, so the operator knows whom to tell */
  unreachableSample: string[];
}

export interface AllUsersResult {
  accounts: number;
  at: string;
  policy: 'configured' | 'given';
  client?: { id: string; name: string | null };
  /** the request's outcome for every account (with the given session), by outcome and reason */
  outcomes: { satisfied: number; step_up: number; unmet: number };
  reasons: Record<string, number>;
  levels: LevelReach[];
}

const SAMPLE = 20;

interface Prepared {
  policy: Policy;
  policySource: 'configured' | 'given';
  now: number;
  request: AuthorizationInputs;
  client?: ClientRecord;
  settings: ClientAcrSettings;
}

async function prepare(deps: DryRunDeps, input: DryRunInput, clientRequired: boolean): Promise<Prepared> {
  let policy = deps.policy;
  if (input.policy !== undefined) {
    try {
      policy = parsePolicy(input.policy);
    } catch (err) {
      throw new DryRunError('policy', (err as Error).message);
    }
  }
  let now = deps.now();
  if (input.at !== undefined) {
    const t = Date.parse(input.at);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(input.at) || Number.isNaN(t)) throw new DryRunError('at', `not an ISO 8601 time: ${input.at.slice(0, 60)}`);
    now = Math.floor(t / 1000);
  }
  let claims: unknown = input.claims;
  if (typeof claims === 'string') {
    try {
      claims = JSON.parse(claims);
    } catch {
      throw new DryRunError('claims', 'not valid JSON');
    }
  }
  if (claims !== undefined && (typeof claims !== 'object' || claims === null || Array.isArray(claims))) throw new DryRunError('claims', 'must be a JSON object');
  // the authorization endpoint refuses a malformed acr claim request (issue #14): so does the dry-run
  const claimsProblem = acrClaimRequestProblem(claims);
  if (claimsProblem) throw new DryRunError('claims', claimsProblem);
  if (input.maxAge !== undefined && (!Number.isInteger(input.maxAge) || input.maxAge < 0)) throw new DryRunError('max_age', 'must be a whole number of seconds, 0 or more');

  let client: ClientRecord | undefined;
  if (input.clientId !== undefined) {
    client = await deps.findClient(input.clientId);
    if (!client) throw new DryRunError('client', `no client with id ${input.clientId.slice(0, 128)}`, 404);
  } else if (clientRequired) {
    throw new DryRunError('client', 'a client id is required');
  }
  return {
    policy,
    policySource: input.policy === undefined ? 'configured' : 'given',
    now,
    request: {
      ...(input.acrValues !== undefined ? { acrValues: input.acrValues } : {}),
      ...(claims !== undefined ? { claims } : {}),
      ...(input.maxAge !== undefined ? { maxAge: input.maxAge } : {}),
      ...(input.prompt !== undefined ? { prompt: input.prompt } : {}),
    },
    client,
    settings: { ...(client?.defaultAcrValues.length ? { defaultAcrValues: client.defaultAcrValues } : {}), ...(client?.minimumAcr ? { minimumAcr: client.minimumAcr } : {}) },
  };
}

function sessionEvents(spec: string | undefined, now: number) {
  if (spec === undefined) return [];
  try {
    return parseSessionSpec(spec, now);
  } catch (err) {
    throw new DryRunError('session', (err as Error).message);
  }
}

/** One user: the trace of the decision a real authorization request would get. */
export async function dryRun(deps: DryRunDeps, input: DryRunInput): Promise<DryRunResult> {
  const p = await prepare(deps, input, true);
  if (!input.user) throw new DryRunError('user', 'a user id or email is required');
  const account = await deps.findAccount(input.user);
  if (!account) throw new DryRunError('user', `no user ${input.user.slice(0, 254)}`, 404);
  const trace = explain({
    policy: p.policy,
    request: p.request,
    client: p.settings,
    sessionEvents: sessionEvents(input.session, p.now),
    enrolled: await deps.enrolledFactors(account.id),
    now: p.now,
  });
  return {
    user: { id: account.id, email: account.email },
    client: { id: p.client!.clientId, name: p.client!.clientName ?? null },
    at: new Date(p.now * 1000).toISOString(),
    policy: p.policySource,
    trace,
  };
}

/** Whether each level is reachable from nothing (a fresh sign-in) with these factors. */
function reachOf(policy: Policy, enrolled: EnrolledFactor[], now: number): Map<string, 'reachable' | 'byEnrolling' | 'unreachable'> {
  const out = new Map<string, 'reachable' | 'byEnrolling' | 'unreachable'>();
  for (const level of policy.levels) {
    const d = evaluate({ policy, requirement: { requested: [level.acr], essential: false, freshLogin: true, source: 'acr_values' }, events: [], enrolled, now });
    out.set(level.acr, d.outcome === 'step_up' ? (d.enrollmentAllowed ? 'byEnrolling' : 'reachable') : 'unreachable');
  }
  return out;
}

/**
 * Every account under the (candidate) policy: how the request would end, and how many accounts can
 * reach each level with the factors they have, so an operator sees whom a stricter policy locks out.
 */
export async function dryRunAllUsers(deps: DryRunDeps, input: Omit<DryRunInput, 'user'>): Promise<AllUsersResult> {
  const p = await prepare(deps, input, false);
  const events = sessionEvents(input.session, p.now);
  const accounts = await deps.listAccounts();
  const outcomes = { satisfied: 0, step_up: 0, unmet: 0 };
  const reasons: Record<string, number> = {};
  const levels = new Map<string, LevelReach>(p.policy.levels.map((l) => [l.acr, { acr: l.acr, reachable: 0, byEnrolling: 0, unreachable: 0, unreachableSample: [] }]));
  // a few accounts at a time: one query each, without holding the whole pool
  const BATCH = 8;
  for (let i = 0; i < accounts.length; i += BATCH) {
    const batch = accounts.slice(i, i + BATCH);
    const enrolled = await Promise.all(batch.map((a) => deps.enrolledFactors(a.id)));
    batch.forEach((account, j) => {
      const factors = enrolled[j]!;
      const trace = explain({ policy: p.policy, request: p.request, client: p.settings, sessionEvents: events, enrolled: factors, now: p.now });
      outcomes[trace.outcome.code] += 1;
      reasons[trace.outcome.reason] = (reasons[trace.outcome.reason] ?? 0) + 1;
      for (const [acr, reach] of reachOf(p.policy, factors, p.now)) {
        const entry = levels.get(acr)!;
        entry[reach] += 1;
        if (reach === 'unreachable' && entry.unreachableSample.length < SAMPLE) entry.unreachableSample.push(account.email);
      }
    });
  }
  return {
    accounts: accounts.length,
    at: new Date(p.now * 1000).toISOString(),
    policy: p.policySource,
    ...(p.client ? { client: { id: p.client.clientId, name: p.client.clientName ?? null } } : {}),
    outcomes,
    reasons,
    levels: [...levels.values()],
  };
}
