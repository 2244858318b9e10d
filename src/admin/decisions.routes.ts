import type Router from '@koa/router';
import type { Context } from 'koa';
import { SIGN_IN_ID } from '../oidc/decision-record.js';
import type { AccountsRepo } from '../store/accounts.repo.js';
import { findSignIn, listSignIns, OUTCOME_CODES, type DecisionJson, type DecisionsDeps, type OutcomeCode, type SignInJson } from './decisions.js';
import type { AdminPageKit } from './ui.routes.js';

/**
 * Issue #19, the admin's answer to "why did my user get aal1?": a user's sign-ins, each decision in
 * time order with what was asked, what the session held and how fresh, the target and why, the steps,
 * the factors used, the outcome and the issued acr/amr/auth_time, in plain words with the raw codes
 * beside them. Rendered by views/admin/sign-ins.njk and sign-in.njk (autoescaped: a client name or a
 * factor label is text, never markup). Behind the admin UI's guard (ui.routes.ts).
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE_SIZE = 20;
const RECENT = 5;

const OUTCOME_WORDS: Record<OutcomeCode, string> = {
  satisfied: 'signed in',
  step_up: 'asked to step up',
  unmet: 'refused',
};
const SIGN_IN_OUTCOME_WORDS: Record<OutcomeCode, string> = {
  satisfied: 'signed in',
  step_up: 'step-up not finished',
  unmet: 'refused (unmet_authentication_requirements)',
};
const FACTOR_WORDS: Record<string, string> = {
  password: 'Password',
  totp: 'Authenticator app (TOTP)',
  webauthn: 'Passkey or security key (WebAuthn)',
  recovery_code: 'Recovery code',
};

/** Issue #16's risk signals as the admin reads them (stable codes beside). */
const SIGNAL_WORDS: Record<string, string> = {
  new_device: 'a device this account has not used before',
  new_network: 'a network this account has not used before',
  recent_failures: 'recent failed sign-in attempts on this account',
};
const SIGNAL_OUTCOME_WORDS: Record<string, string> = {
  applied: 'raised what was required',
  moot: 'the client already asked for at least that',
  unreachable: 'the account cannot reach it with its factors',
};
function signalsView(signals: unknown) {
  if (signals === undefined) return [];
  if (!Array.isArray(signals)) return [{ words: 'recorded as', codes: JSON.stringify(signals) }];
  return signals.map((s: unknown) => {
    const { reason, demanded, outcome } = (typeof s === 'object' && s !== null ? s : {}) as Record<string, unknown>;
    const r = str(reason);
    return {
      words: `${SIGNAL_WORDS[r] ?? r}: asked for at least ${str(demanded) || '?'}, ${SIGNAL_OUTCOME_WORDS[str(outcome)] ?? str(outcome)}`,
      codes: `${r} ${str(demanded)} ${str(outcome)}`.trim(),
    };
  });
}

const fmtEpoch = (s: number) => new Date(s * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
const fmtIso = (s: string) => s.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
const str = (v: unknown) => (typeof v === 'string' ? v : '');

/** A decision as the page shows it: every field a sentence, with its codes beside it. */
function decisionView(d: DecisionJson) {
  const t = d.trace;
  const request = t?.inputs.request;
  const acrClaim = (request?.claims as { id_token?: { acr?: unknown } } | undefined)?.id_token?.acr;
  const asked = [
    ...(request?.acrValues !== undefined ? [`acr_values=${request.acrValues}`] : []),
    ...(acrClaim !== undefined ? [`claims id_token.acr=${JSON.stringify(acrClaim)}`] : []),
    ...(request?.maxAge !== undefined ? [`max_age=${request.maxAge}`] : []),
    ...(request?.prompt !== undefined ? [`prompt=${request.prompt}`] : []),
  ];
  const client = t?.inputs.client;
  const clientSettings = [
    ...(client?.defaultAcrValues?.length ? [`default_acr_values=${client.defaultAcrValues.join(' ')}`] : []),
    ...(client?.minimumAcr ? [`minimum_acr=${client.minimumAcr}`] : []),
  ];
  return {
    id: d.id,
    at: fmtIso(d.at),
    moment: d.resumed ? 'After the sign-in pages (the resume)' : 'At the authorization request',
    outcome: d.outcome,
    outcomeShort: OUTCOME_WORDS[d.outcome],
    reason: d.reason,
    legacy: !t,
    asked: asked.length ? asked : ['nothing (no acr_values, claims, max_age or prompt)'],
    clientSettings: clientSettings.length ? clientSettings : ['none'],
    requirement: t ? { words: t.requirement.words, codes: `requested=${t.requirement.requested.join(' ') || '(none)'} source=${t.requirement.source}${t.requirement.essential ? ' essential' : ''}${t.requirement.freshLogin ? ' fresh_login' : ''}${t.requirement.unmetReason ? ` unmet=${t.requirement.unmetReason}` : ''}` } : undefined,
    held: t?.held ?? [],
    sessionEvents: (t?.inputs.sessionEvents ?? []).map((e) => ({ factor: FACTOR_WORDS[e.factor] ?? e.factor, code: e.factor, amr: e.amr.join(' '), at: fmtEpoch(e.at) })),
    demands: t?.inputs.demands ?? [],
    signals: signalsView(d.signals),
    target: t?.target,
    steps: (d.resumed ? d.steps_asked : t?.steps) ?? [],
    stepsLabel: d.resumed ? 'Steps the sign-in pages asked for' : 'Steps asked',
    factorsUsed: (d.factors_used ?? []).map((f) => ({
      kind: FACTOR_WORDS[f.factor] ?? f.factor,
      code: f.factor,
      label: f.label,
      model: f.model,
      aaguid: f.aaguid,
      amr: f.amr.join(' '),
      at: fmtEpoch(f.at),
    })),
    resumed: d.resumed,
    outcomeWords: t?.outcome.words ?? OUTCOME_WORDS[d.outcome],
    issued: t?.issued ? { acr: t.issued.acr ?? '(none)', amr: t.issued.amr.join(' '), authTime: t.issued.authTime, authTimeWords: fmtEpoch(t.issued.authTime) } : undefined,
    evaluatedAt: t ? fmtEpoch(t.inputs.now) : undefined,
  };
}

export function signInView(userId: string, s: SignInJson) {
  const last = s.decisions.at(-1)!;
  const issued = last.trace?.issued;
  return {
    id: s.sign_in,
    // a decision recorded before issue #19 has no sign-in id: it has no page of its own
    url: s.sign_in.startsWith('event-') ? undefined : `/admin/users/${userId}/sign-ins/${encodeURIComponent(s.sign_in)}`,
    clientId: s.client_id,
    clientName: s.client_name,
    started: fmtIso(s.started_at),
    outcome: s.outcome,
    outcomeWords: SIGN_IN_OUTCOME_WORDS[s.outcome],
    reason: last.reason,
    summary: issued ? `acr ${issued.acr ?? '(none)'}` : last.trace?.target ? `target ${last.trace.target.acr}` : '',
    decisions: s.decisions.map(decisionView),
  };
}

export interface DecisionPagesDeps extends DecisionsDeps {
  accounts: Pick<AccountsRepo, 'findById'>;
}

/** The user page's "Recent sign-ins" (ui.routes.ts `userPageExtras`). */
export function recentSignIns(deps: DecisionPagesDeps) {
  return async (accountId: string) => ({
    signIns: (await listSignIns(deps, accountId, { limit: RECENT })).items.map((s) => signInView(accountId, s)),
  });
}

export function mountDecisionPages(deps: DecisionPagesDeps) {
  return (router: Router, kit: AdminPageKit) => {
    const userParam = async (ctx: Context) => {
      const id = String(ctx.params.id ?? '');
      return UUID.test(id) ? deps.accounts.findById(id) : undefined;
    };

    router.get('/admin/users/:id/sign-ins', async (ctx) => {
      const account = await userParam(ctx);
      if (!account) return kit.problem(ctx, 404, 'Not found', 'There is no such user.');
      const client = str(ctx.query.client).trim().slice(0, 128);
      const outcome = (OUTCOME_CODES as readonly string[]).includes(str(ctx.query.outcome)) ? (str(ctx.query.outcome) as OutcomeCode) : undefined;
      const before = /^\d{1,18}$/.test(str(ctx.query.before)) ? str(ctx.query.before) : undefined;
      const page = await listSignIns(deps, account.id, { clientId: client || undefined, outcome, before, limit: PAGE_SIZE });
      const filter = (extra: Record<string, string>) => new URLSearchParams({ ...(client ? { client } : {}), ...(outcome ? { outcome } : {}), ...extra }).toString();
      kit.page(ctx, 'admin/sign-ins.njk', {
        title: `Sign-ins of ${account.email}`,
        user: account,
        filters: { client, outcome: outcome ?? '' },
        outcomes: OUTCOME_CODES.map((code) => ({ code, words: SIGN_IN_OUTCOME_WORDS[code] })),
        signIns: page.items.map((s) => signInView(account.id, s)),
        older: page.next_before ? `/admin/users/${account.id}/sign-ins?${filter({ before: page.next_before })}` : undefined,
        newest: before ? `/admin/users/${account.id}/sign-ins?${filter({})}` : undefined,
      });
    });

    router.get('/admin/users/:id/sign-ins/:signIn', async (ctx) => {
      const account = await userParam(ctx);
      const signIn = String(ctx.params.signIn ?? '');
      const found = account && SIGN_IN_ID.test(signIn) ? await findSignIn(deps, account.id, signIn) : undefined;
      if (!account || !found) return kit.problem(ctx, 404, 'Not found', 'That user has no such sign-in.');
      const view = signInView(account.id, found);
      kit.page(ctx, 'admin/sign-in.njk', { title: `Sign-in of ${account.email} at ${view.clientName ?? view.clientId ?? 'an unknown client'}`, user: account, signIn: view });
    });
  };
}
