import { STATUS_CODES } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry, type CounterConfiguration, type GaugeConfiguration } from 'prom-client';
import { AUDIT_EVENT_TYPES, type AuditEvent } from '../audit/audit.js';
import { DECISION_REASONS, FACTOR_KINDS, type FactorKind } from '../stepup/index.js';
import type { OutboxChannel, OutboxStatus } from '../store/outbox.repo.js';
import { TallyCounter, TallyHistogram } from './tally.js';

/**
 * Prometheus metrics (issue #17, SPEC §5), served on the management listener only (src/ops/management.ts).
 *
 * Names follow the Prometheus conventions: `stepup_` prefix, `_total` for counters, base units
 * (seconds). Every label value comes from a set declared here (`labelValues`), never from a user id,
 * an email or anything a client sent: a value outside its set is counted as `other`. Counting costs
 * a counter increment on the request path, never an await or a round trip (issue #20 measures
 * sign-ins per CPU second).
 *
 * Each app has its own Registry (not prom-client's global one), so several apps in one process (the
 * tests) never share or collide on a metric.
 */

export const OTHER = 'other';
export const NONE = 'none';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const HTTP_STATUSES = Object.keys(STATUS_CODES);
export const FLOW_OUTCOMES = ['success', 'failure'] as const;
export const DECISION_OUTCOMES = ['satisfied', 'step_up', 'unmet'] as const;
export const VERIFICATION_OUTCOMES = ['success', 'failure', 'locked_out'] as const;
export const AUDIT_OUTCOMES = ['success', 'failure', 'info'] as const;
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export const ISSUED_TOKENS = ['access_token', 'id_token', 'refresh_token'] as const;
export const STORES = ['postgres', 'redis'] as const;
export const STORE_ERROR_KINDS = ['unavailable', 'query'] as const;
/** The notification and webhook outbox (issue #17 items 2 and 3, src/store/outbox.repo.ts); `sent` entries are not depth. */
export const OUTBOX_CHANNELS = ['email', 'webhook'] as const satisfies readonly OutboxChannel[];
export const OUTBOX_STATES = ['pending', 'dead'] as const satisfies readonly OutboxStatus[];

export type Store = (typeof STORES)[number];

/** Seconds: sign-in pages and token calls take milliseconds to a second (argon2id is the slow part). */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds: a ping on loopback is well under a millisecond; a slow store is what this should show. */
const PING_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** A scrape waits this long for the outbox depth query at most. */
const DEPTH_TIMEOUT_MS = 2_000;

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);

const bounded = (value: unknown, allowed: ReadonlySet<string>): string => (typeof value === 'string' && allowed.has(value) ? value : OTHER);

export interface MetricsOptions {
  /** the policy's acr values (SPEC §1): the bounded set of the `acr` label */
  acrValues: readonly string[];
}

export function createMetrics(options: MetricsOptions) {
  const registry = new Registry();
  // process_* and nodejs_* under their standard names (every Node.js dashboard expects them unprefixed)
  collectDefaultMetrics({ register: registry });

  const acrs = new Set(options.acrValues);
  const routes = new Set<string>([OTHER]);
  const sets = {
    method: new Set<string>(HTTP_METHODS),
    status: new Set(HTTP_STATUSES),
    reason: new Set<string>(DECISION_REASONS),
    grantType: new Set<string>(GRANT_TYPES),
    auditType: new Set<string>(AUDIT_EVENT_TYPES),
  };
  const acrOrNone = (acr: unknown) => (acr === undefined || acr === null ? NONE : bounded(acr, acrs));

  /** Every label of every stepup_ metric with the values it may take (the tests assert /metrics against these). */
  const labelValues: Record<string, Record<string, readonly string[]>> = {};
  const declare = (name: string, labels: Record<string, readonly string[]>) => {
    if (!name.startsWith('stepup_')) throw new Error(`metric ${name} must start with stepup_`);
    labelValues[name] = labels;
  };
  const withOther = (values: Iterable<string>) => [...values, OTHER];
  const acrLabel = () => [...acrs, NONE, OTHER];

  const counter = <L extends string>(config: CounterConfiguration<L> & { labels?: Record<L, readonly string[]> }) => {
    const { labels, ...rest } = config;
    declare(config.name, labels ?? {});
    return new Counter<L>({ ...rest, registers: [registry] });
  };
  const gauge = <L extends string>(config: GaugeConfiguration<L> & { labels?: Record<L, readonly string[]> }) => {
    const { labels, ...rest } = config;
    declare(config.name, labels ?? {});
    return new Gauge<L>({ ...rest, registers: [registry] });
  };

  /**
   * The request path's counters (src/ops/tally.ts: a Map update, no label hashing per call). With
   * `zero`, every combination of the listed label values is exposed from the start as 0, so a rate or
   * an alert has a series before the first event (Prometheus' advice for known label values).
   */
  const tally = <L extends string = never>(config: { name: string; help: string; labelNames?: readonly L[]; labels?: Record<L, readonly string[]>; zero?: Record<L, readonly string[]> }) => {
    declare(config.name, config.labels ?? {});
    const counter = new TallyCounter<L>(config.name, config.help, config.labelNames ?? [], registry);
    if (config.zero || !config.labelNames?.length) {
      let combinations: Array<Record<string, string>> = [{}];
      for (const [label, values] of Object.entries(config.zero ?? {}) as Array<[string, readonly string[]]>) combinations = combinations.flatMap((c) => values.map((v) => ({ ...c, [label]: v })));
      for (const labels of combinations) counter.inc(labels as Record<L, string>, 0);
    }
    return counter;
  };

  const httpDuration = new TallyHistogram('stepup_http_request_duration_seconds', 'HTTP requests on the public port by route template, method and status code', ['route', 'method', 'status'] as const, HTTP_BUCKETS, registry);
  declare('stepup_http_request_duration_seconds', {
    // filled in by setRoutes() once every router exists: read through a getter
    get route() {
      return [...routes];
    },
    method: withOther(HTTP_METHODS),
    status: withOther(HTTP_STATUSES),
  });

  const signIns = tally({
    name: 'stepup_sign_ins_total',
    help: 'Sign-ins (an interaction on a session with no verification yet) by outcome, counted when the interaction ends',
    labelNames: ['outcome'] as const,
    labels: { outcome: FLOW_OUTCOMES },
    zero: { outcome: FLOW_OUTCOMES },
  });
  const stepUps = tally({
    name: 'stepup_step_ups_total',
    help: 'Step-ups (an interaction on a signed-in session) by target acr and outcome, counted when the interaction ends',
    labelNames: ['acr', 'outcome'] as const,
    labels: { get acr() { return acrLabel(); }, outcome: FLOW_OUTCOMES },
  });
  const decisions = tally({
    name: 'stepup_decisions_total',
    help: 'Step-up decisions (SPEC §2) by target acr, outcome and reason (the reason codes of the audit trail)',
    labelNames: ['acr', 'outcome', 'reason'] as const,
    labels: { get acr() { return acrLabel(); }, outcome: DECISION_OUTCOMES, reason: withOther(DECISION_REASONS) },
  });
  const verifications = tally({
    name: 'stepup_factor_verifications_total',
    help: 'Factor verifications at sign-in and step-up by factor kind and outcome (locked_out: refused unchecked during a lockout)',
    labelNames: ['factor', 'outcome'] as const,
    labels: { factor: FACTOR_KINDS, outcome: VERIFICATION_OUTCOMES },
    zero: { factor: FACTOR_KINDS, outcome: VERIFICATION_OUTCOMES },
  });
  const lockouts = tally({
    name: 'stepup_lockouts_total',
    help: 'Lockouts started (SPEC §3: too many failures per account and factor, or per IP) by factor kind',
    labelNames: ['factor'] as const,
    labels: { factor: FACTOR_KINDS },
    zero: { factor: FACTOR_KINDS },
  });
  const recoveryCodesUsed = tally({ name: 'stepup_recovery_codes_used_total', help: 'Recovery codes accepted' });
  const auditEvents = tally({
    name: 'stepup_audit_events_total',
    help: 'Audit events recorded, by type and outcome',
    labelNames: ['type', 'outcome'] as const,
    labels: { type: AUDIT_EVENT_TYPES, outcome: AUDIT_OUTCOMES },
  });
  const tokensIssued = tally({
    name: 'stepup_tokens_issued_total',
    help: 'Tokens issued by the token endpoint by grant type, acr and token',
    labelNames: ['grant_type', 'acr', 'token'] as const,
    labels: { grant_type: withOther(GRANT_TYPES), get acr() { return acrLabel(); }, token: ISSUED_TOKENS },
  });
  const replays = tally({
    name: 'stepup_token_replays_total',
    help: 'Authorization codes and refresh tokens presented again after use (the grant is revoked), by grant type',
    labelNames: ['grant_type'] as const,
    labels: { grant_type: withOther(GRANT_TYPES) },
    zero: { grant_type: ['authorization_code', 'refresh_token'] },
  });
  const storeErrors = tally({
    name: 'stepup_store_errors_total',
    help: 'Errors from Postgres and Redis by store and kind (unavailable: the store did not answer)',
    labelNames: ['store', 'kind'] as const,
    labels: { store: STORES, kind: STORE_ERROR_KINDS },
    zero: { store: STORES, kind: STORE_ERROR_KINDS },
  });
  const storeUp = gauge({
    name: 'stepup_store_up',
    help: 'Whether the store answered its last ping (1) or not (0); pinged on every scrape and readiness check',
    labelNames: ['store'] as const,
    labels: { store: STORES },
  });
  const storePing = new TallyHistogram(
    'stepup_store_ping_duration_seconds',
    'Round trip of a ping to the store (select 1, PING), taken on every scrape and readiness check',
    ['store'] as const,
    PING_BUCKETS,
    registry,
  );
  declare('stepup_store_ping_duration_seconds', { store: STORES });
  const outboxFailures = tally({
    name: 'stepup_outbox_delivery_failures_total',
    help: 'Failed delivery attempts of outbox messages (email, webhook), each retried with backoff until dead',
    labelNames: ['channel'] as const,
    labels: { channel: OUTBOX_CHANNELS },
    zero: { channel: OUTBOX_CHANNELS },
  });

  return {
    registry,
    /** label name → allowed values, per stepup_ metric (the `route` set fills in with setRoutes) */
    labelValues,

    /** The route templates the public app serves (own routers and oidc-provider's), the bounded `route` label. */
    setRoutes(templates: Iterable<string>): void {
      for (const t of templates) routes.add(t);
    },
    observeRequest(route: string | undefined, method: string, status: number, seconds: number): void {
      httpDuration.observe({ route: route !== undefined && routes.has(route) ? route : OTHER, method: bounded(method, sets.method), status: bounded(String(status), sets.status) }, seconds);
    },

    /**
     * The audit seam (src/audit/audit.ts): every security event passes here once, so the sign-in,
     * step-up, verification, lockout and recovery-code counters are derived from the audit trail's
     * own words and cannot disagree with it.
     */
    countAudit(e: AuditEvent): void {
      auditEvents.inc({ type: bounded(e.type, sets.auditType), outcome: e.outcome });
      const kind = loginKind(e.type);
      if (kind) {
        verifications.inc({ factor: kind, outcome: e.outcome === 'success' ? 'success' : e.reason === 'locked_out' ? 'locked_out' : 'failure' });
        if (e.reason === 'lockout_started') lockouts.inc({ factor: kind });
        if (kind === 'recovery_code' && e.outcome === 'success') recoveryCodesUsed.inc({});
        return;
      }
      // confirming a new authenticator app counts against the TOTP limits (src/factors/totp/totp.factor.ts)
      if (e.type === 'factor.enroll' && e.reason === 'lockout_started') return void lockouts.inc({ factor: 'totp' });
      if (e.type === 'stepup.decision') {
        const details = e.details ?? {};
        const outcome = e.outcome === 'success' ? 'satisfied' : e.outcome === 'failure' ? 'unmet' : 'step_up';
        const acr = acrOrNone(details.target);
        decisions.inc({ acr, outcome, reason: bounded(e.reason, sets.reason) });
        // the sign-in or step-up this decision ends, if any (src/oidc/policy.ts)
        const result = outcome === 'satisfied' ? 'success' : 'failure';
        if (details.ends === 'step_up') stepUps.inc({ acr, outcome: result });
        else if (details.ends === 'sign_in') signIns.inc({ outcome: result });
      }
    },

    tokenIssued(grantType: unknown, acr: unknown, tokens: readonly (typeof ISSUED_TOKENS)[number][]): void {
      const labels = { grant_type: bounded(grantType, sets.grantType), acr: acrOrNone(acr) };
      for (const token of tokens) tokensIssued.inc({ ...labels, token });
    },
    replayDetected(grantType: unknown): void {
      replays.inc({ grant_type: bounded(grantType, sets.grantType) });
    },
    storeError(store: Store, kind: (typeof STORE_ERROR_KINDS)[number]): void {
      storeErrors.inc({ store, kind });
    },
    storePinged(store: Store, ok: boolean, seconds: number): void {
      storeUp.set({ store }, ok ? 1 : 0);
      if (ok) storePing.observe({ store }, seconds);
    },

    /**
     * The seam for the outbox (issue #17 items 2 and 3), which owns its table: a reader of its depth,
     * called on every scrape (`stepup_outbox_messages{channel,state}`, every pair present, 0 when
     * empty, so an alert sees a value), and each failed delivery attempt.
     */
    outbox: {
      depth(read: () => Promise<ReadonlyArray<{ channel: OutboxChannel; status: OutboxStatus; count: number }>>): void {
        const states = new Set<string>(OUTBOX_STATES);
        gauge({
          name: 'stepup_outbox_messages',
          help: 'Outbox messages not delivered, by channel and state (pending: waiting or retrying; dead: retries exhausted)',
          labelNames: ['channel', 'state'] as const,
          labels: { channel: OUTBOX_CHANNELS, state: OUTBOX_STATES },
          async collect() {
            // Postgres down or slow: no outbox series this time, rather than no /metrics at all (stepup_store_up says why)
            const rows = await withTimeout(read(), DEPTH_TIMEOUT_MS).catch(() => undefined);
            this.reset();
            if (!rows) return;
            for (const channel of OUTBOX_CHANNELS) for (const state of OUTBOX_STATES) this.set({ channel, state }, 0);
            for (const row of rows) if (states.has(row.status)) this.set({ channel: row.channel, state: row.status }, row.count);
          },
        });
      },
      deliveryFailed(channel: OutboxChannel): void {
        outboxFailures.inc({ channel });
      },
    },

    /** For a metric this file does not define yet: declared with its bounded label values, on this app's registry. */
    counter,
    gauge,

    async scrape(): Promise<{ contentType: string; body: string }> {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

const LOGIN_KINDS = new Map<string, FactorKind>(FACTOR_KINDS.map((k) => [`login.${k}`, k]));
const loginKind = (type: string): FactorKind | undefined => LOGIN_KINDS.get(type);
