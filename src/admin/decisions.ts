import { ACCOUNT_CLIENT_ID } from '../account/internal-client.js';
import type { FactorUsed } from '../oidc/decision-record.js';
import type { StepTrace, Trace } from '../stepup/index.js';
import type { ClientsRepo } from '../store/clients.repo.js';
import type { DecisionRow, DecisionsRepo } from '../store/decisions.repo.js';
import { ADMIN_CLIENT_ID } from './internal-client.js';

/**
 * Issue #19: a user's sign-ins as the admin reads them. Each sign-in is the `stepup.decision` events of
 * one authorization request (the decision at /auth and the one at the resume), in time order, each with
 * the explain() Trace recorded at the time (src/oidc/decision-record.ts). Shared by the admin API and UI.
 */
export type OutcomeCode = 'satisfied' | 'step_up' | 'unmet';
export const OUTCOME_CODES = ['satisfied', 'step_up', 'unmet'] as const;

export interface DecisionJson {
  id: string;
  at: string;
  resumed: boolean;
  outcome: OutcomeCode;
  reason: string | null;
  /** null for a decision recorded before issue #19 */
  trace: Trace | null;
  steps_asked: StepTrace[] | null;
  factors_used: FactorUsed[] | null;
  /** issue #16's risk signals, when that sign-in had any (kept as recorded) */
  signals?: unknown;
}

export interface SignInJson {
  sign_in: string;
  client_id: string | null;
  client_name: string | null;
  started_at: string;
  finished_at: string;
  /** the last decision's outcome: `step_up` means the user did not finish the step-up */
  outcome: OutcomeCode;
  decisions: DecisionJson[];
}

const OUTCOME_OF: Record<DecisionRow['outcome'], OutcomeCode> = { success: 'satisfied', failure: 'unmet', info: 'step_up' };
const BUILT_IN_NAMES: Record<string, string> = { [ADMIN_CLIENT_ID]: 'stepup admin pages', [ACCOUNT_CLIENT_ID]: 'stepup account page' };

/** A decision recorded before issue #19 has no sign-in id: it stands alone. */
const signInOf = (row: DecisionRow) => (typeof row.details.signIn === 'string' ? row.details.signIn : `event-${row.id}`);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function decisionJson(row: DecisionRow): DecisionJson {
  const d = row.details;
  const trace = isObject(d.trace) && isObject(d.trace.outcome) ? (d.trace as unknown as Trace) : null;
  return {
    id: row.id,
    at: new Date(row.at).toISOString(),
    resumed: d.resumed === true,
    outcome: (trace?.outcome.code as OutcomeCode | undefined) ?? OUTCOME_OF[row.outcome],
    reason: row.reason,
    trace,
    steps_asked: Array.isArray(d.stepsAsked) ? (d.stepsAsked as StepTrace[]) : null,
    factors_used: Array.isArray(d.factorsUsed) ? (d.factorsUsed as FactorUsed[]) : null,
    ...(d.signals !== undefined ? { signals: d.signals } : {}),
  };
}

export interface DecisionsDeps {
  decisions: DecisionsRepo;
  clients: Pick<ClientsRepo, 'find'>;
}

export interface SignInQuery {
  clientId?: string;
  outcome?: OutcomeCode;
  /** cursor: sign-ins whose newest decision is older than this audit event id */
  before?: string;
  limit: number;
}

const SCAN_CHUNK = 200;
/** A filter that matches little must not read a user's whole history in one request. */
const SCAN_BUDGET = 2000;

function group(rows: DecisionRow[]): Map<string, DecisionRow[]> {
  const groups = new Map<string, DecisionRow[]>();
  for (const row of rows) {
    const key = signInOf(row);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  for (const list of groups.values()) list.sort((a, b) => Number(a.id) - Number(b.id));
  return groups;
}

async function clientNames(deps: DecisionsDeps, ids: (string | null)[]): Promise<Map<string, string | null>> {
  const names = new Map<string, string | null>();
  for (const id of new Set(ids.filter((v): v is string => Boolean(v)))) {
    names.set(id, BUILT_IN_NAMES[id] ?? (await deps.clients.find(id))?.clientName ?? null);
  }
  return names;
}

function signInJson(key: string, rows: DecisionRow[], names: Map<string, string | null>): SignInJson {
  const decisions = rows.map(decisionJson);
  const clientId = rows[0]!.clientId;
  return {
    sign_in: key,
    client_id: clientId,
    client_name: clientId ? (names.get(clientId) ?? null) : null,
    started_at: decisions[0]!.at,
    finished_at: decisions.at(-1)!.at,
    outcome: decisions.at(-1)!.outcome,
    decisions,
  };
}

/**
 * A page of a user's sign-ins, newest first. A sign-in belongs to the page of its newest decision, so
 * paging never shows one twice; `next_before` is the cursor of the next page (null at the end).
 */
export async function listSignIns(deps: DecisionsDeps, subject: string, query: SignInQuery): Promise<{ items: SignInJson[]; next_before: string | null }> {
  const picked: { key: string; rows: DecisionRow[]; newest: number }[] = [];
  const seen = new Set<string>();
  let before = query.before;
  let scanned = 0;
  let exhausted = false;
  while (picked.length < query.limit && scanned < SCAN_BUDGET) {
    const rows = await deps.decisions.forSubject(subject, { clientId: query.clientId, before, limit: SCAN_CHUNK });
    scanned += rows.length;
    if (rows.length < SCAN_CHUNK) exhausted = true;
    const fresh = [...new Set(rows.map(signInOf))].filter((k) => !seen.has(k));
    fresh.forEach((k) => seen.add(k));
    const keys = fresh.filter((k) => !k.startsWith('event-'));
    const full = group([...(await deps.decisions.forSignIns(subject, keys)), ...rows.filter((r) => signInOf(r).startsWith('event-'))]);
    for (const key of fresh) {
      const list = full.get(key);
      if (!list?.length) continue;
      const newest = Number(list.at(-1)!.id);
      // a sign-in whose newest decision is on an earlier page stays there
      if (query.before !== undefined && newest >= Number(query.before)) continue;
      if (query.outcome && decisionJson(list.at(-1)!).outcome !== query.outcome) continue;
      picked.push({ key, rows: list, newest });
    }
    if (exhausted || rows.length === 0) break;
    before = rows.at(-1)!.id;
  }
  picked.sort((a, b) => b.newest - a.newest);
  const page = picked.slice(0, query.limit);
  const names = await clientNames(deps, page.map((p) => p.rows[0]!.clientId));
  const full = picked.length > query.limit || (page.length === query.limit && !exhausted);
  const nextBefore = full ? String(page.at(-1)!.newest) : !exhausted && scanned >= SCAN_BUDGET ? (before ?? null) : null;
  return { items: page.map((p) => signInJson(p.key, p.rows, names)), next_before: nextBefore };
}

/** One sign-in of a user, or undefined. */
export async function findSignIn(deps: DecisionsDeps, subject: string, signIn: string): Promise<SignInJson | undefined> {
  const rows = await deps.decisions.forSignIns(subject, [signIn]);
  if (rows.length === 0) return undefined;
  return signInJson(signIn, rows, await clientNames(deps, [rows[0]!.clientId]));
}
