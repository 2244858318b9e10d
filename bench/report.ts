import type { Stat } from './flows.js';

/** The shape of bench/results/latest.json, and its Markdown rendering. */
export interface ScenarioResult extends Stat {
  /** completed operations per wall-clock second */
  rate: number;
  serverCpuSeconds: number;
  /** completed operations per second of the server's own CPU time (user + system) */
  perCpuSecond: number;
}

export interface ServerResults {
  /** the `alg` of the ID tokens this server issued in the run (both must sign alike) */
  idTokenAlg?: string;
  idleRssMiB: number;
  peakRssMiB: number;
  scenarios: Record<string, ScenarioResult>;
  postgresRowsPerLogin?: { total: number; perTable: Record<string, number> };
  redis?: { activeSessions: number; bytesPerSession: number; allBytesPerSession: number; byKind: Record<string, { keys: number; bytes: number }> };
}

export interface Results {
  date: string;
  mode: string;
  /** the commit measured (with `-dirty` when the work tree had changes) */
  commit?: string;
  wallSeconds: number;
  machine: { cores: number; cpuModel: string; node: string; loadAverageAtEnd: number[] };
  /** CPU of one argon2id verification and of one sequential store round trip, in the bench process */
  machineCosts?: { argon2VerifyCpuMs: number; redisRoundTripCpuUs: number; postgresQueryCpuUs: number };
  settings: Record<string, number>;
  stepup: ServerResults;
  bare: ServerResults;
}

export const SCENARIOS: { key: string; label: string; unit: string; target?: (s: ScenarioResult, bare?: ScenarioResult) => string }[] = [
  {
    key: 'full_login',
    label: 'Full login with step-up (password + TOTP, distinct users)',
    unit: 'logins',
    target: (s) => `≥ 60/CPU-s, p99 < 100 ms: ${s.perCpuSecond >= 60 && s.p99 < 100 ? 'met' : 'not met'}`,
  },
  { key: 'step_up', label: 'Step-up only (aal1 session → aal2 via TOTP)', unit: 'step-ups' },
  { key: 'password_login', label: 'Password login (aal1), the step-up set-up', unit: 'logins' },
  { key: 'refresh', label: 'Refresh token grant (rotation)', unit: 'req', target: ratioTarget },
  { key: 'client_credentials', label: 'Client credentials grant (JWT access token)', unit: 'req', target: ratioTarget },
  { key: 'introspection', label: 'Introspection (opaque access token)', unit: 'req', target: ratioTarget },
  { key: 'userinfo', label: 'UserInfo', unit: 'req', target: ratioTarget },
  { key: 'discovery', label: 'Discovery', unit: 'req' },
  { key: 'jwks', label: 'JWKS', unit: 'req' },
];

function ratioTarget(s: ScenarioResult, bare?: ScenarioResult): string {
  if (!bare) return '';
  return `≥ 60 % of bare, p99 < 50 ms: ${s.perCpuSecond / bare.perCpuSecond >= 0.6 && s.p99 < 50 ? 'met' : 'not met'}`;
}

const n0 = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));
const ms = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : `${n}`);

export function renderMarkdown(r: Results): string {
  const lines: string[] = [];
  lines.push(`### Benchmark results (${r.date.slice(0, 16).replace('T', ' ')} UTC, ${r.mode} run${r.commit ? `, commit ${r.commit}` : ''})`);
  lines.push('');
  lines.push(
    `Machine: ${r.machine.cores} cores, ${r.machine.cpuModel}, Node ${r.machine.node}; load average at the end ${r.machine.loadAverageAtEnd.join(' / ')}. ` +
      `Rates per wall-clock second depend on what else runs; **per server CPU-second** (the server process's own user + system time from /proc) is the comparable figure. ` +
      `ID tokens signed with ${r.stepup.idTokenAlg ?? '?'} (stepup) and ${r.bare.idTokenAlg ?? '?'} (bare). Flows: ${r.settings.flowConcurrency} concurrent browsers; single endpoints: autocannon, ${r.settings.connections} connections, ${r.settings.secondsPerEndpoint} s each. ${r.settings.rounds ? `Timed measurements (full login and the single endpoints but refresh) alternate between the two servers in ${r.settings.rounds} rounds; p50 is the median round's, p99 the worst round's. ` : ''}Latencies in ms, as seen by the client.`,
  );
  lines.push('');
  lines.push('| Measurement | stepup /s | stepup per CPU-s | p50 | p99 | bare /s | bare per CPU-s | p50 | p99 | stepup/bare (per CPU-s) | Target (issues #6, #20) |');
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const s of SCENARIOS) {
    const a = r.stepup.scenarios[s.key];
    const b = r.bare.scenarios[s.key];
    if (!a) continue;
    const errors = a.errors || b?.errors ? ` (errors: stepup ${a.errors}, bare ${b?.errors ?? 'n/a'})` : '';
    lines.push(
      `| ${s.label}${errors} | ${n0(a.rate)} | ${n0(a.perCpuSecond)} | ${ms(a.p50)} | ${ms(a.p99)} | ${n0(b?.rate)} | ${n0(b?.perCpuSecond)} | ${ms(b?.p50)} | ${ms(b?.p99)} | ${b ? `${Math.round((a.perCpuSecond / b.perCpuSecond) * 100)} %` : 'n/a'} | ${s.target?.(a, b) ?? ''} |`,
    );
  }
  lines.push('');
  const redis = r.stepup.redis;
  const rows = r.stepup.postgresRowsPerLogin;
  lines.push('| Resource | stepup | bare | Target |');
  lines.push('|---|--:|--:|---|');
  const mb = (mib: number) => mib * 1.048576;
  lines.push(
    `| Idle RSS (after start-up and warm-up) | ${r.stepup.idleRssMiB.toFixed(1)} MiB (${mb(r.stepup.idleRssMiB).toFixed(1)} MB) | ${r.bare.idleRssMiB.toFixed(1)} MiB | ≤ 120 MB: ${mb(r.stepup.idleRssMiB) <= 120 ? 'met' : 'not met'} |`,
  );
  lines.push(`| Peak RSS (VmHWM over the run) | ${r.stepup.peakRssMiB.toFixed(1)} MiB | ${r.bare.peakRssMiB.toFixed(1)} MiB | |`);
  if (redis) {
    lines.push(
      `| Redis memory per active session (session record, uid hash with its factor events; ${redis.activeSessions} sessions) | ${Math.round(redis.bytesPerSession)} B | in-process | ≤ 1 KiB: ${redis.bytesPerSession <= 1024 ? 'met' : 'not met'} |`,
    );
    lines.push(`| Redis memory per active session, with its grant, tokens and indexes | ${Math.round(redis.allBytesPerSession)} B | in-process | |`);
  }
  if (rows) {
    const detail = Object.entries(rows.perTable)
      .map(([t, n]) => `${t} ${n.toFixed(2)}`)
      .join(', ');
    lines.push(`| Postgres rows written per full login (${detail}) | ${rows.total.toFixed(2)} | none | |`);
  }
  const costs = r.machineCosts;
  if (costs) {
    lines.push(
      `| CPU on this machine (bench process, sequential): one argon2id verification, one Redis round trip, one Postgres query | ${costs.argon2VerifyCpuMs.toFixed(1)} ms, ${Math.round(costs.redisRoundTripCpuUs)} µs, ${Math.round(costs.postgresQueryCpuUs)} µs | | |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}
