import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { closedLoop, forCount, takeUser, type BenchUser } from '../bench/flows.js';
import { cpuSeconds, memoryMiB } from '../bench/proc.js';
import { renderMarkdown, type Results, type ScenarioResult } from '../bench/report.js';
import { PRODUCTION_NODE_FLAGS } from '../bench/shared.js';

/** Issue #6: the benchmark driver's pieces work (shapes only; performance is never asserted in tests). */
describe('bench driver', () => {
  it('starts stepup with the Node flags the Dockerfile runs it with', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8'))?.[1];
    const argv = JSON.parse(cmd ?? '[]') as string[];
    expect(argv.slice(0, 1 + PRODUCTION_NODE_FLAGS.length)).toEqual(['node', ...PRODUCTION_NODE_FLAGS]);
  });

  it('reads a process CPU time and memory from /proc', () => {
    const cpu = cpuSeconds(process.pid);
    expect(Number.isFinite(cpu) && cpu >= 0).toBe(true);
    const mem = memoryMiB(process.pid);
    expect(mem.rss).toBeGreaterThan(0);
    expect(mem.peak).toBeGreaterThanOrEqual(mem.rss);
  });

  it('a closed loop runs the asked number of operations across its workers and counts failures apart', async () => {
    let n = 0;
    const stat = await closedLoop(3, forCount(10), async () => {
      if (++n % 5 === 0) throw new Error('every fifth fails');
    });
    expect(stat).toMatchObject({ count: 8, errors: 2, firstError: 'every fifth fails' });
    expect(stat.p99).toBeGreaterThanOrEqual(stat.p50);
  });

  it('never hands out a user whose TOTP step was already used in the current step (round-robin otherwise)', async () => {
    const pool: BenchUser[] = [1, 2].map((i) => ({ email: `u${i}`, password: 'p', totpSecret: 's', lastStep: 0 }));
    const a = await takeUser(pool);
    const b = await takeUser(pool);
    expect(a.email).not.toBe(b.email);
    // the bare provider checks no code: users come round
    expect((await takeUser(pool, { singleUse: false })).email).toBe(a.email);
  });

  it('renders every measured endpoint with the stepup/bare ratio', () => {
    const s = (perCpuSecond: number): ScenarioResult => ({ count: 10, errors: 0, seconds: 1, p50: 1, p99: 2, rate: 10, serverCpuSeconds: 10 / perCpuSecond, perCpuSecond });
    const results: Results = {
      date: '2026-12-01T00:00:00.000Z',
      mode: 'quick',
      wallSeconds: 1,
      machine: { cores: 2, cpuModel: 'test', node: process.version, loadAverageAtEnd: [0, 0, 0] },
      settings: { flowConcurrency: 4, connections: 8, secondsPerEndpoint: 1 },
      stepup: { idleRssMiB: 80, peakRssMiB: 200, scenarios: { refresh: s(600), full_login: s(30) }, redis: { activeSessions: 2, bytesPerSession: 900, allBytesPerSession: 5000, byKind: {} } },
      bare: { idleRssMiB: 60, peakRssMiB: 100, scenarios: { refresh: s(1000), full_login: s(150) } },
    };
    const md = renderMarkdown(results);
    expect(md).toMatch(/\| Refresh token grant \(rotation\) \|.*\| 60 % \| ≥ 60 % of bare, p99 < 50 ms: met \|/);
    expect(md).toMatch(/\| Full login with step-up .*\| 20 % \| ≥ 60\/CPU-s, p99 < 100 ms: not met \|/);
    expect(md).toContain('Redis memory per active session');
  });
});
