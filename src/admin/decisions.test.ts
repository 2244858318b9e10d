import { describe, expect, it } from '@jest/globals';
import type { DecisionRow, DecisionsRepo } from '../store/decisions.repo.js';
import { listSignIns } from './decisions.js';

/** An in-memory decisions repository answering like the SQL one (newest first by id; a sign-in's rows oldest first). */
function fakeRepo(rows: DecisionRow[]): DecisionsRepo {
  return {
    async forSubject(subject, opts) {
      return rows
        .filter((r) => r.subject === subject && (!opts.clientId || r.clientId === opts.clientId) && (!opts.before || Number(r.id) < Number(opts.before)))
        .sort((a, b) => Number(b.id) - Number(a.id))
        .slice(0, opts.limit);
    },
    async forSignIns(subject, signIns) {
      return rows.filter((r) => r.subject === subject && signIns.includes(String(r.details.signIn))).sort((a, b) => Number(a.id) - Number(b.id));
    },
  };
}

const row = (id: number, signIn: string | undefined, outcome: DecisionRow['outcome'], clientId = 'app'): DecisionRow => ({
  id: String(id),
  at: new Date(1_800_000_000_000 + id * 1000),
  outcome,
  reason: outcome === 'success' ? 'target_reached' : outcome === 'failure' ? 'no_enrolled_factor_for_target' : 'level_not_held',
  subject: 'u1',
  clientId,
  requestId: null,
  details: signIn ? { signIn, resumed: outcome === 'success' } : { held: ['aal1'] },
});

describe('issue #19: a user\'s sign-ins, paged', () => {
  // interleaved: sign-in A (ids 1, 4), B (2, 3), C (5, unmet), D (6, 8), E (7, other client), a pre-#19 row (9)
  const rows = [row(1, 'signInA1', 'info'), row(2, 'signInB1', 'info'), row(3, 'signInB1', 'success'), row(4, 'signInA1', 'success'), row(5, 'signInC1', 'failure'), row(6, 'signInD1', 'info'), row(7, 'signInE1', 'success', 'other'), row(8, 'signInD1', 'success'), row(9, undefined, 'success')];
  const deps = { decisions: fakeRepo(rows), clients: { find: async (id: string) => (id === 'app' ? ({ clientName: 'The App' } as never) : undefined) } };

  it('groups each sign-in\'s decisions in time order, newest sign-in first, with the client by name', async () => {
    const page = await listSignIns(deps, 'u1', { limit: 10 });
    expect(page.items.map((s) => s.sign_in)).toEqual(['event-9', 'signInD1', 'signInE1', 'signInC1', 'signInA1', 'signInB1']);
    expect(page.items[1]).toMatchObject({ client_name: 'The App', outcome: 'satisfied', decisions: [{ id: '6', outcome: 'step_up' }, { id: '8', outcome: 'satisfied' }] });
    expect(page.items[2]).toMatchObject({ client_id: 'other', client_name: null });
    expect(page.next_before).toBeNull();
  });

  it('pages by cursor without losing or repeating an interleaved sign-in', async () => {
    const seen: string[] = [];
    let before: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await listSignIns(deps, 'u1', { limit: 2, before });
      seen.push(...page.items.map((s) => s.sign_in));
      if (!page.next_before) break;
      before = page.next_before;
    }
    expect(seen).toEqual(['event-9', 'signInD1', 'signInE1', 'signInC1', 'signInA1', 'signInB1']);
  });

  it('filters by outcome and by client', async () => {
    expect((await listSignIns(deps, 'u1', { limit: 10, outcome: 'unmet' })).items.map((s) => s.sign_in)).toEqual(['signInC1']);
    expect((await listSignIns(deps, 'u1', { limit: 10, clientId: 'other' })).items.map((s) => s.sign_in)).toEqual(['signInE1']);
    expect((await listSignIns(deps, 'u2', { limit: 10 })).items).toEqual([]);
  });
});

describe('issue #19 with #16: the risk signals of a decision, in words', () => {
  it('names each signal, what it demanded and what became of it, codes beside', async () => {
    const { signInView } = await import('./decisions.routes.js');
    const base = { id: '1', at: '2026-12-06T03:00:00.000Z', resumed: true, outcome: 'satisfied' as const, reason: 'target_reached', trace: null, steps_asked: null, factors_used: null };
    const view = signInView('u1', {
      sign_in: 'abcdefgh12',
      client_id: 'app',
      client_name: null,
      started_at: base.at,
      finished_at: base.at,
      outcome: 'satisfied',
      decisions: [{ ...base, signals: [{ reason: 'new_device', demanded: 'aal2', outcome: 'applied' }, { reason: 'recent_failures', demanded: 'aal2', outcome: 'moot' }] }, { ...base, id: '2', signals: [] }],
    });
    expect(view.decisions[0]!.signals).toEqual([
      { words: 'a device this account has not used before: asked for at least aal2, raised what was required', codes: 'new_device aal2 applied' },
      { words: 'recent failed sign-in attempts on this account: asked for at least aal2, the client already asked for at least that', codes: 'recent_failures aal2 moot' },
    ]);
    expect(view.decisions[1]!.signals).toEqual([]);
  });
});
