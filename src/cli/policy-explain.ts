import { readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import { dryRun, dryRunAllUsers, DryRunError, type AllUsersResult, type DryRunDeps, type DryRunInput, type DryRunResult } from '../admin/dry-run.js';
import { loadPolicy } from '../config/policy-file.js';
import type { Config } from '../config/env.js';
import { createAccountReads } from '../store/account-reads.js';
import type { Stores } from '../store/stores.js';

/**
 * Issue #19: `stepup policy explain`, the policy dry-run from the command line. One user: the trace of
 * the decision a real authorization request would get (readable, or `--json`: the admin API's answer).
 * `--all-users`: every account under the (candidate) policy, by outcome and by the levels each can
 * reach, so an operator sees whom a stricter policy would lock out before deploying it. Reads only.
 */
interface CliKit {
  parse(args: string[], options: NonNullable<ParseArgsConfig['options']>): Record<string, string | string[] | boolean | undefined>;
  withStores<T>(config: Config, fn: (stores: Stores) => Promise<T>): Promise<T>;
  UsageError: new (message: string) => Error;
}

const FLAG_OF: Record<string, string> = { user: '--user', client: '--client', claims: '--claims', max_age: '--max-age', at: '--at', session: '--session', policy: '--policy-file' };

export async function policyCommand(config: Config, args: string[], kit: CliKit): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'explain') throw new kit.UsageError('usage: stepup policy explain (--user E | --all-users) [--client ID] [--acr-values "A B"] [--claims JSON] [--max-age N] [--at ISO-time] [--session SPEC] [--policy-file F] [--json]');
  const v = kit.parse(rest, {
    user: { type: 'string' },
    'all-users': { type: 'boolean' },
    client: { type: 'string' },
    'acr-values': { type: 'string' },
    claims: { type: 'string' },
    'max-age': { type: 'string' },
    prompt: { type: 'string' },
    at: { type: 'string' },
    session: { type: 'string' },
    'policy-file': { type: 'string' },
    json: { type: 'boolean' },
  });
  const user = v.user as string | undefined;
  const allUsers = Boolean(v['all-users']);
  if (user && allUsers) throw new kit.UsageError('give --user or --all-users, not both');
  if (!user && !allUsers) throw new kit.UsageError('--user (an email or id) or --all-users is required');
  if (user && !v.client) throw new kit.UsageError('--client is required with --user');
  const maxAgeText = v['max-age'] as string | undefined;
  if (maxAgeText !== undefined && !/^\d{1,10}$/.test(maxAgeText)) throw new kit.UsageError(`--max-age must be a whole number of seconds: ${maxAgeText}`);
  let policy: unknown;
  const policyFile = v['policy-file'] as string | undefined;
  if (policyFile !== undefined) {
    try {
      policy = JSON.parse(readFileSync(policyFile, 'utf8'));
    } catch (err) {
      throw new kit.UsageError(`--policy-file ${policyFile}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const input: DryRunInput = {
    ...(user ? { user } : {}),
    ...(v.client ? { clientId: v.client as string } : {}),
    ...(v['acr-values'] !== undefined ? { acrValues: v['acr-values'] as string } : {}),
    ...(v.claims !== undefined ? { claims: v.claims as string } : {}),
    ...(maxAgeText !== undefined ? { maxAge: Number(maxAgeText) } : {}),
    ...(v.prompt !== undefined ? { prompt: v.prompt as string } : {}),
    ...(v.at !== undefined ? { at: v.at as string } : {}),
    ...(v.session !== undefined ? { session: v.session as string } : {}),
    ...(policy !== undefined ? { policy } : {}),
  };
  const configured = loadPolicy(config.policyFile);
  const result = await kit.withStores(config, async (s) => {
    const reads = createAccountReads(s.db, s.accounts);
    const deps: DryRunDeps = {
      policy: configured,
      findAccount: (idOrEmail) => (idOrEmail.includes('@') ? s.accounts.findByEmail(idOrEmail) : s.accounts.findById(idOrEmail)),
      findClient: (id) => s.clients.find(id),
      enrolledFactors: (id) => reads.enrolledFactors(undefined, id),
      listAccounts: () => s.accounts.list(),
      now: () => Math.floor(Date.now() / 1000),
    };
    try {
      return allUsers ? await dryRunAllUsers(deps, input) : await dryRun(deps, input);
    } catch (err) {
      if (err instanceof DryRunError) throw new kit.UsageError(err.status === 404 ? err.message : `${FLAG_OF[err.field] ?? err.field}: ${err.message}`);
      throw err;
    }
  });
  if (v.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log('trace' in result ? readableTrace(result) : readableAllUsers(result, input));
}

const pad = (s: string) => s.padEnd(12);

export function readableTrace(r: DryRunResult): string {
  const t = r.trace;
  const req = t.inputs.request;
  const asked = [
    req.acrValues !== undefined ? `acr_values=${req.acrValues}` : '',
    req.claims !== undefined ? `claims=${JSON.stringify(req.claims)}` : '',
    req.maxAge !== undefined ? `max_age=${req.maxAge}` : '',
    req.prompt !== undefined ? `prompt=${req.prompt}` : '',
  ].filter(Boolean);
  const settings = [
    t.inputs.client.defaultAcrValues?.length ? `default_acr_values=${t.inputs.client.defaultAcrValues.join(' ')}` : '',
    t.inputs.client.minimumAcr ? `minimum_acr=${t.inputs.client.minimumAcr}` : '',
  ].filter(Boolean);
  const lines = [
    `${pad('User')}${r.user.email} (${r.user.id})`,
    `${pad('Client')}${r.client.name ? `${r.client.name} (${r.client.id})` : r.client.id}${settings.length ? `  [${settings.join(' ')}]` : ''}`,
    `${pad('At')}${r.at}, ${r.policy === 'given' ? 'the given policy' : 'the configured policy'}`,
    `${pad('Session')}${t.inputs.sessionEvents.length ? t.inputs.sessionEvents.map((e) => `${e.factor} ${t.inputs.now - e.at} s ago`).join(', ') : 'no verification yet'}`,
    `${pad('Enrolled')}${t.inputs.enrolled.map((f) => f.factor).join(', ') || 'nothing'}`,
    `${pad('Asked')}${asked.join(' ') || 'nothing'}`,
    `${pad('Requirement')}${t.requirement.words}  [requested=${t.requirement.requested.join(' ') || '(none)'} source=${t.requirement.source}]`,
    'Held',
    ...t.held.map((h) => `  ${h.acr.padEnd(10)}${h.words}`),
    `${pad('Target')}${t.target ? `${t.target.words}  [${t.target.acr}]` : 'none'}`,
    ...(t.steps.length ? ['Steps', ...t.steps.map((s) => `  ${s.words}  [${s.step}]`)] : [`${pad('Steps')}none`]),
    `${pad('Outcome')}${t.outcome.words}  [${t.outcome.code} ${t.outcome.reason}]`,
    ...(t.issued ? [`${pad('Issued')}acr ${t.issued.acr ?? '(none)'}, amr ${t.issued.amr.join(' ')}, auth_time ${t.issued.authTime} (${new Date(t.issued.authTime * 1000).toISOString()})`] : []),
  ];
  return lines.join('\n');
}

export function readableAllUsers(r: AllUsersResult, input: DryRunInput): string {
  const asked = [input.acrValues !== undefined ? `acr_values=${input.acrValues}` : '', input.claims !== undefined ? `claims=${String(input.claims)}` : '', input.maxAge !== undefined ? `max_age=${input.maxAge}` : ''].filter(Boolean).join(' ');
  const width = Math.max(5, ...r.levels.map((l) => l.acr.length)) + 2;
  return [
    `${r.accounts} account${r.accounts === 1 ? '' : 's'} at ${r.at}, ${r.policy === 'given' ? 'the given policy' : 'the configured policy'}`,
    `Request: ${r.client ? `client ${r.client.id}` : 'no client'}${asked ? `, ${asked}` : ', no acr asked'}${input.session ? `, session ${input.session}` : ', no session'}`,
    `Outcomes: satisfied ${r.outcomes.satisfied}, step_up ${r.outcomes.step_up}, unmet ${r.outcomes.unmet}`,
    `Reasons: ${Object.entries(r.reasons).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`,
    'Levels: reachable with their factors / only by enrolling one during the step-up / unreachable',
    ...r.levels.map((l) => `  ${l.acr.padEnd(width)}${l.reachable} / ${l.byEnrolling} / ${l.unreachable}${l.unreachableSample.length ? `   cannot reach it: ${l.unreachableSample.join(', ')}${l.unreachable > l.unreachableSample.length ? ', …' : ''}` : ''}`),
  ].join('\n');
}
