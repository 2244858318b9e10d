import type { Registry } from 'prom-client';

/** What prom-client's Registry reads from a metric's get() to write the exposition. */
interface Exposed {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Array<{ metricName?: string; labels: Record<string, string>; value: number }>;
}

/**
 * Counters and histograms for the request path (issue #17, measured by issue #20's sign-ins per CPU
 * second): an increment is one Map update. prom-client's own classes validate and hash the label set
 * on every call (about 0.7 µs per counter and 2 µs per histogram observation here, several per
 * request); these keep plain numbers per label set and hand them to the registry only when Prometheus
 * scrapes. The label sets are bounded by the caller (src/ops/metrics.ts), so the maps are too.
 *
 * They implement what prom-client's Registry reads (`name`, `help`, `type`, `aggregator`, `get()`,
 * `reset()`), so the exposition format is prom-client's.
 */

const SEPARATOR = '\u0001';

abstract class Tally<L extends string, S extends { labels: Record<L, string> }> {
  readonly aggregator = 'sum' as const;
  protected readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  protected seriesOf(labels: Record<L, string>): S {
    let key = '';
    for (const name of this.labelNames) key += labels[name] + SEPARATOR;
    let found = this.series.get(key);
    if (!found) {
      // the labels in their declared order, copied: the caller's object is not kept
      const own = {} as Record<L, string>;
      for (const name of this.labelNames) own[name] = labels[name];
      found = this.fresh(own);
      this.series.set(key, found);
    }
    return found;
  }

  protected abstract fresh(labels: Record<L, string>): S;

  reset(): void {
    this.series.clear();
  }
}

export class TallyCounter<L extends string = never> extends Tally<L, { labels: Record<L, string>; value: number }> {
  readonly type = 'counter' as const;

  protected fresh(labels: Record<L, string>) {
    return { labels, value: 0 };
  }

  inc(labels: Record<L, string>, by = 1): void {
    this.seriesOf(labels).value += by;
  }

  async get(): Promise<Exposed> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [...this.series.values()].map((s) => ({ labels: s.labels, value: s.value })) };
  }
}

export class TallyHistogram<L extends string = never> extends Tally<L, { labels: Record<L, string>; buckets: number[]; sum: number; count: number }> {
  readonly type = 'histogram' as const;

  constructor(name: string, help: string, labelNames: readonly L[], private readonly upperBounds: readonly number[], registry: Registry) {
    super(name, help, labelNames, registry);
  }

  protected fresh(labels: Record<L, string>) {
    return { labels, buckets: new Array<number>(this.upperBounds.length + 1).fill(0), sum: 0, count: 0 };
  }

  observe(labels: Record<L, string>, value: number): void {
    const s = this.seriesOf(labels);
    // the first bucket whose upper bound holds the value (Prometheus `le`: less than or equal)
    let i = 0;
    while (i < this.upperBounds.length && value > this.upperBounds[i]!) i++;
    s.buckets[i]!++;
    s.sum += value;
    s.count++;
  }

  async get(): Promise<Exposed> {
    const values: Exposed['values'] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += s.buckets[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: String(le) }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
