import { describe, expect, it } from '@jest/globals';
import type { AuditEvent } from '../audit/audit.js';
import { isReplayedGrant } from './oidc-metrics.js';
import { createMetrics } from './metrics.js';

const ACRS = ['aal1', 'aal2', 'phr', 'phrh'];

async function series(metrics: ReturnType<typeof createMetrics>, name: string) {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? []).filter((v) => v.value !== 0).map((v) => ({ labels: v.labels, value: v.value }));
}

describe('metrics derived from audit events (issue #17)', () => {
  it.each<[string, AuditEvent, string, Array<{ labels: object; value: number }>]>([
    ['a verified factor', { type: 'login.totp', outcome: 'success' }, 'stepup_factor_verifications_total', [{ labels: { factor: 'totp', outcome: 'success' }, value: 1 }]],
    ['a refused factor', { type: 'login.password', outcome: 'failure', reason: 'bad_credentials' }, 'stepup_factor_verifications_total', [{ labels: { factor: 'password', outcome: 'failure' }, value: 1 }]],
    ['a refusal during a lockout', { type: 'login.totp', outcome: 'failure', reason: 'locked_out' }, 'stepup_factor_verifications_total', [{ labels: { factor: 'totp', outcome: 'locked_out' }, value: 1 }]],
    ['the failure that starts a lockout', { type: 'login.recovery_code', outcome: 'failure', reason: 'lockout_started' }, 'stepup_lockouts_total', [{ labels: { factor: 'recovery_code' }, value: 1 }]],
    ['a TOTP enrollment lockout (TOTP limits)', { type: 'factor.enroll', outcome: 'failure', reason: 'lockout_started' }, 'stepup_lockouts_total', [{ labels: { factor: 'totp' }, value: 1 }]],
    ['a recovery code used', { type: 'login.recovery_code', outcome: 'success' }, 'stepup_recovery_codes_used_total', [{ labels: {}, value: 1 }]],
    [
      'a decision that prompts',
      { type: 'stepup.decision', outcome: 'info', reason: 'level_not_held', details: { target: 'aal2', resumed: false } },
      'stepup_decisions_total',
      [{ labels: { acr: 'aal2', outcome: 'step_up', reason: 'level_not_held' }, value: 1 }],
    ],
    ['a decision with no target', { type: 'stepup.decision', outcome: 'failure', reason: 'essential_acr_unknown', details: {} }, 'stepup_decisions_total', [{ labels: { acr: 'none', outcome: 'unmet', reason: 'essential_acr_unknown' }, value: 1 }]],
    ['a decision naming an unknown acr or reason', { type: 'stepup.decision', outcome: 'success', reason: 'risk:<x>', details: { target: 'user@example.com' } }, 'stepup_decisions_total', [{ labels: { acr: 'other', outcome: 'satisfied', reason: 'other' }, value: 1 }]],
    ['the end of a sign-in', { type: 'stepup.decision', outcome: 'success', reason: 'target_reached', details: { target: 'aal2', resumed: true, ends: 'sign_in' } }, 'stepup_sign_ins_total', [{ labels: { outcome: 'success' }, value: 1 }]],
    ['a refused step-up', { type: 'stepup.decision', outcome: 'failure', reason: 'no_enrolled_factor_for_target', details: { resumed: false, ends: 'step_up' } }, 'stepup_step_ups_total', [{ labels: { acr: 'none', outcome: 'failure' }, value: 1 }]],
    ['a decision that ends nothing', { type: 'stepup.decision', outcome: 'success', reason: 'already_held', details: { target: 'aal1', resumed: false } }, 'stepup_sign_ins_total', []],
    ['any event', { type: 'admin.user.disable', outcome: 'success' }, 'stepup_audit_events_total', [{ labels: { type: 'admin.user.disable', outcome: 'success' }, value: 1 }]],
  ])('%s', async (_name, event, metric, expected) => {
    const metrics = createMetrics({ acrValues: ACRS });
    metrics.countAudit(event);
    expect(await series(metrics, metric)).toEqual(expected);
  });

  it('a stored type this version does not know is `other`, never its own label value', async () => {
    const metrics = createMetrics({ acrValues: ACRS });
    metrics.countAudit({ type: 'made.up' as AuditEvent['type'], outcome: 'info' });
    expect(await series(metrics, 'stepup_audit_events_total')).toEqual([{ labels: { type: 'other', outcome: 'info' }, value: 1 }]);
  });
});

describe('metrics', () => {
  it('each app has its own registry: two in one process neither collide nor share counts', async () => {
    const a = createMetrics({ acrValues: ACRS });
    const b = createMetrics({ acrValues: ACRS });
    a.countAudit({ type: 'login.password', outcome: 'success' });
    expect(await series(a, 'stepup_factor_verifications_total')).toHaveLength(1);
    expect(await series(b, 'stepup_factor_verifications_total')).toEqual([]);
  });

  it('HTTP labels: route templates only, unknown methods and paths as `other`', async () => {
    const metrics = createMetrics({ acrValues: ACRS });
    metrics.setRoutes(['/interaction/:uid/totp', '/token']);
    metrics.observeRequest('/interaction/:uid/totp', 'POST', 401, 0.01);
    metrics.observeRequest('/interaction/abc123/totp', 'POST', 401, 0.01);
    metrics.observeRequest('/token', 'BREW', 418, 0.01);
    const metric = await metrics.registry.getSingleMetric('stepup_http_request_duration_seconds')!.get();
    const counts = metric.values.filter((v) => (v as { metricName?: string }).metricName === 'stepup_http_request_duration_seconds_count').map((v) => v.labels);
    expect(counts).toEqual([
      { route: '/interaction/:uid/totp', method: 'POST', status: '401' },
      { route: 'other', method: 'POST', status: '401' },
      { route: '/token', method: 'other', status: '418' },
    ]);
  });

  it('the histogram buckets are cumulative, le is "less or equal", with _sum and _count (Prometheus text format)', async () => {
    const metrics = createMetrics({ acrValues: ACRS });
    metrics.setRoutes(['/token']);
    for (const seconds of [0.003, 0.005, 0.02, 20]) metrics.observeRequest('/token', 'POST', 200, seconds);
    const { body } = await metrics.scrape();
    const line = (le: string) => new RegExp(`stepup_http_request_duration_seconds_bucket\\{route="/token",method="POST",status="200",le="${le.replace('+', '\\+')}"\\} (\\d+)`).exec(body)?.[1];
    expect([line('0.005'), line('0.01'), line('0.025'), line('10'), line('+Inf')]).toEqual(['2', '2', '3', '3', '4']);
    expect(body).toMatch(/stepup_http_request_duration_seconds_sum\{route="\/token",method="POST",status="200"\} 20\.028/);
    expect(body).toMatch(/stepup_http_request_duration_seconds_count\{route="\/token",method="POST",status="200"\} 4/);
    expect(body).toMatch(/# TYPE stepup_http_request_duration_seconds histogram/);
  });

  it('counters with known label values are 0 before the first event (a rate has a series from the start)', async () => {
    const { body } = await createMetrics({ acrValues: ACRS }).scrape();
    expect(body).toMatch(/stepup_lockouts_total\{factor="totp"\} 0/);
    expect(body).toMatch(/stepup_recovery_codes_used_total 0/);
    expect(body).toMatch(/stepup_token_replays_total\{grant_type="refresh_token"\} 0/);
    expect(body).toMatch(/# TYPE stepup_sign_ins_total counter/);
  });

  it('the outbox seam: a depth read at every scrape, failures counted, bounded labels declared', async () => {
    const metrics = createMetrics({ acrValues: ACRS });
    let pending = 3;
    metrics.outbox.depth(async () => [
      { channel: 'email', status: 'pending', count: pending },
      { channel: 'email', status: 'sent', count: 7 },
      { channel: 'webhook', status: 'dead', count: 1 },
    ]);
    metrics.outbox.deliveryFailed('webhook');
    expect((await metrics.scrape()).body).toMatch(/stepup_outbox_messages\{channel="email",state="pending"\} 3/);
    pending = 0;
    const { body } = await metrics.scrape();
    expect(body).toMatch(/stepup_outbox_messages\{channel="email",state="pending"\} 0/);
    expect(body).toMatch(/stepup_outbox_messages\{channel="webhook",state="dead"\} 1/);
    expect(body).toMatch(/stepup_outbox_messages\{channel="webhook",state="pending"\} 0/);
    expect(body).not.toMatch(/state="sent"/);
    expect(body).toMatch(/stepup_outbox_delivery_failures_total\{channel="webhook"\} 1/);
    expect(metrics.labelValues.stepup_outbox_messages).toEqual({ channel: ['email', 'webhook'], state: ['pending', 'dead'] });
  });

  it('an outbox depth that cannot be read (Postgres down) leaves its series out, never the whole scrape', async () => {
    const metrics = createMetrics({ acrValues: ACRS });
    let down = false;
    metrics.outbox.depth(async () => {
      if (down) throw new Error('connect ECONNREFUSED');
      return [{ channel: 'email', status: 'pending', count: 2 }];
    });
    expect((await metrics.scrape()).body).toMatch(/stepup_outbox_messages\{channel="email",state="pending"\} 2/);
    down = true;
    const { body } = await metrics.scrape();
    expect(body).not.toMatch(/stepup_outbox_messages\{/);
    expect(body).toMatch(/stepup_sign_ins_total/);
  });

  it('a metric added through the seam must be named stepup_…', () => {
    const metrics = createMetrics({ acrValues: ACRS });
    expect(() => metrics.counter({ name: 'outbox_total', help: 'x' })).toThrow(/stepup_/);
    expect(() => metrics.counter({ name: 'stepup_things_total', help: 'x' })).not.toThrow();
  });
});

describe('replay detection', () => {
  it.each([
    ['authorization code already consumed', true],
    ['refresh token already used', true],
    ['grant request is invalid (already consumed or not found)', true],
    ['authorization code is expired', false],
    ['grant not found', false],
  ])('invalid_grant "%s" → %s', (detail, replay) => {
    expect(isReplayedGrant({ error: 'invalid_grant', error_detail: detail })).toBe(replay);
  });
  it('another error is never a replay', () => {
    expect(isReplayedGrant({ error: 'invalid_client', error_detail: 'already used' })).toBe(false);
    expect(isReplayedGrant(null)).toBe(false);
  });
});
