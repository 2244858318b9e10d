/**
 * Issue #20: where each server's CPU goes, per measurement. `npm run bench -- --profile` writes a V8
 * CPU profile of stepup and of the bare provider (--cpu-prof) and the time window and request count of
 * each measurement (phases.json, on the profiles' own clock); this cuts the profiles into those windows
 * and prints, for each measurement and server, the self time per request by area (stepup's code by
 * folder, each package, Node's internals, garbage collection) and the functions with the most self
 * time. Relative self time is robust to a busy machine, where absolute CPU per request moves by ±30 %.
 * A profile samples the main thread only: argon2 and signing in libuv's pool are not in it.
 *
 *   npx tsx bench/profile-summary.ts [profiles dir] [--top 25] [--areas 15] [--only refresh,userinfo]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../test/support/process.js';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}
interface Phase {
  server?: string;
  name: string;
  from: number;
  to: number;
  count?: number;
}

/** The area a frame belongs to: a package, a folder of stepup's own code, Node's internals, or V8's. */
export function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node:internal';
  const own = /\/dist\/(src\/[^/]+)/.exec(url) ?? /\/(src\/[^/]+)/.exec(url);
  if (own) return own[1]!;
  return url;
}

export function summarize(profile: Profile, window?: { from: number; to: number }) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = profile.startTime;
  let total = 0;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    if (window && (t < window.from || t > window.to)) return;
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') return;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const fn = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, '')}:${lineNumber + 1}` : ''}`.trim();
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { totalMs: total / 1000, areas: sorted(areas), functions: sorted(functions) };
}

function main() {
  const args = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, areas: { type: 'string', default: '15' }, only: { type: 'string' } } });
  const dir = args.positionals[0] ?? join(ROOT, 'bench', 'results', 'profiles');
  const phases = JSON.parse(readFileSync(join(dir, 'phases.json'), 'utf8')) as Phase[];
  const only = args.values.only ? new Set(args.values.only.split(',')) : undefined;
  const names = [...new Set(phases.map((p) => p.name))].filter((n) => !only || only.has(n));
  const top = Number(args.values.top);
  const areas = Number(args.values.areas);
  const profiles = new Map<string, Profile>();
  for (const server of ['stepup', 'bare']) {
    try {
      profiles.set(server, JSON.parse(readFileSync(join(dir, `${server}.cpuprofile`), 'utf8')) as Profile);
    } catch {
      /* that server was not profiled */
    }
  }
  process.stdout.write(`profiles in ${dir}: ${[...profiles.keys()].join(', ')}\n`);
  /** per request, in µs of main-thread CPU (the libuv pool's argon2 and signing are not in a profile) */
  const perRequest = (us: number, count: number) => `${(us / Math.max(1, count)).toFixed(0).padStart(6)} µs`;
  for (const name of names) {
    process.stdout.write(`\n## ${name}\n`);
    for (const [server, profile] of profiles) {
      // every round of the measurement: a sample counts when it falls in any of them
      const windows = phases.filter((p) => p.name === name && (p.server ?? 'stepup') === server);
      if (windows.length === 0) continue;
      const count = windows.reduce((a, w) => a + (w.count ?? 0), 0);
      const merged = windows.map((w) => summarize(profile, w));
      const combine = (key: 'areas' | 'functions') => {
        const m = new Map<string, number>();
        for (const s of merged) for (const [k, v] of s[key]) m.set(k, (m.get(k) ?? 0) + v);
        return [...m].sort((a, b) => b[1] - a[1]);
      };
      const totalUs = merged.reduce((a, s) => a + s.totalMs, 0) * 1000;
      process.stdout.write(`\n### ${server}: ${count} requests, ${perRequest(totalUs, count).trim()} of main-thread CPU samples per request\n\nby area (per request, share):\n`);
      for (const [a, us] of combine('areas').slice(0, areas)) process.stdout.write(`  ${perRequest(us, count)} ${((us / totalUs) * 100).toFixed(1).padStart(5)} %  ${a}\n`);
      if (top > 0) {
        process.stdout.write(`functions (self time per request, share):\n`);
        for (const [f, us] of combine('functions').slice(0, top)) process.stdout.write(`  ${perRequest(us, count)} ${((us / totalUs) * 100).toFixed(1).padStart(5)} %  ${f}\n`);
      }
    }
  }
}

if (process.argv[1]?.endsWith('profile-summary.ts') || process.argv[1]?.endsWith('profile-summary.js')) main();
