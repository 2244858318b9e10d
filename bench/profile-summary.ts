/**
 * Issue #20: where stepup's CPU goes, per measurement. `npm run bench -- --profile` writes a V8 CPU
 * profile of stepup (--cpu-prof) and the time window of each of its measurements (phases.json, on the
 * profile's own clock); this cuts the profile into those windows and prints, for each, the self time
 * by area (stepup's code by folder, each package, Node's internals, garbage collection) and the
 * functions with the most self time. Relative self time is robust to a busy machine, where absolute CPU
 * per request moves by ±30 %.
 *
 *   npx tsx bench/profile-summary.ts [profile.cpuprofile] [--top 25] [--areas 15] [--only refresh,userinfo]
 *
 * Without a file, the newest profile in bench/results/profiles/.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
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
  name: string;
  from: number;
  to: number;
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
  const dir = join(ROOT, 'bench', 'results', 'profiles');
  const file =
    args.positionals[0] ??
    readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(dir, f))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  let phases: Phase[] = [];
  try {
    phases = JSON.parse(readFileSync(join(dir, 'phases.json'), 'utf8')) as Phase[];
  } catch {
    /* no phases: the whole profile */
  }
  const only = args.values.only ? new Set(args.values.only.split(',')) : undefined;
  const names = [...new Set(phases.map((p) => p.name))].filter((n) => !only || only.has(n));
  const top = Number(args.values.top);
  const pct = (us: number, totalMs: number) => `${((us / 1000 / totalMs) * 100).toFixed(1).padStart(5)} %`;
  const print = (title: string, s: ReturnType<typeof summarize>) => {
    process.stdout.write(`\n## ${title}: ${s.totalMs.toFixed(0)} ms of samples\n\nby area:\n`);
    for (const [a, us] of s.areas.slice(0, Number(args.values.areas))) process.stdout.write(`  ${pct(us, s.totalMs)}  ${a}\n`);
    process.stdout.write(`functions (self time):\n`);
    for (const [f, us] of s.functions.slice(0, top)) process.stdout.write(`  ${pct(us, s.totalMs)}  ${f}\n`);
  };
  process.stdout.write(`profile ${file}\n`);
  if (names.length === 0) print('whole run', summarize(profile));
  for (const name of names) {
    // every round of the measurement: a sample counts when it falls in any of them
    const windows = phases.filter((p) => p.name === name);
    const merged = windows.map((w) => summarize(profile, w));
    const combine = (key: 'areas' | 'functions') => {
      const m = new Map<string, number>();
      for (const s of merged) for (const [k, v] of s[key]) m.set(k, (m.get(k) ?? 0) + v);
      return [...m].sort((a, b) => b[1] - a[1]);
    };
    print(name, { totalMs: merged.reduce((a, s) => a + s.totalMs, 0), areas: combine('areas'), functions: combine('functions') });
  }
}

if (process.argv[1]?.endsWith('profile-summary.ts') || process.argv[1]?.endsWith('profile-summary.js')) main();
