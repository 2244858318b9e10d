/** Reading a Prometheus text exposition (issue #17 tests): samples keyed by name and sorted labels. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;

export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const l = LABEL.exec(body);
      if (!l) throw new Error(`bad labels: ${body}`);
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

export const seriesKey = (s: Pick<Sample, 'name' | 'labels'>) =>
  `${s.name}{${Object.keys(s.labels)
    .sort()
    .map((k) => `${k}=${s.labels[k]}`)
    .join(',')}}`;

/** name{label=value,…} → value */
export function seriesOf(text: string): Map<string, number> {
  return new Map(parseExposition(text).map((s) => [seriesKey(s), s.value]));
}

/** What moved between two scrapes, for the series whose name matches (absent before: counted from 0). */
export function moved(before: Map<string, number>, after: Map<string, number>, name: RegExp): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) {
    if (!name.test(key.slice(0, key.indexOf('{')))) continue;
    const delta = value - (before.get(key) ?? 0);
    if (delta !== 0) out[key] = delta;
  }
  return out;
}

export async function scrape(managementUrl: string): Promise<{ text: string; series: Map<string, number> }> {
  const res = await fetch(`${managementUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const text = await res.text();
  return { text, series: seriesOf(text) };
}
