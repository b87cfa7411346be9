/**
 * A small Prometheus metrics registry: counters, gauges and histograms with labels, rendered
 * in the text exposition format (version 0.0.4).
 * @module
 */

type Labels = Record<string, string>;

function key(labels: Labels): string {
  return Object.keys(labels).sort().map((k) => `${k}="${escapeLabel(labels[k])}"`).join(",");
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function braces(inner: string): string {
  return inner ? `{${inner}}` : "";
}

interface Metric {
  render(): string[];
}

/** A monotonically increasing count per label set. */
export class Counter implements Metric {
  readonly #values = new Map<string, number>();
  /** A counter named `name` with help text `help`. */
  constructor(readonly name: string, readonly help: string) {}
  /** Add `by` (default 1) to the series with `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  /** Current value of one series (0 when never incremented). */
  get(labels: Labels = {}): number {
    return this.#values.get(key(labels)) ?? 0;
  }
  /** Exposition lines. */
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.#values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.#values) lines.push(`${this.name}${braces(k)} ${v}`);
    return lines;
  }
}

/** A value read at scrape time. */
export class Gauge implements Metric {
  /** A gauge named `name` whose value `read` returns at scrape time. */
  constructor(readonly name: string, readonly help: string, readonly read: () => number) {}
  /** Exposition lines. */
  render(): string[] {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} gauge`,
      `${this.name} ${this.read()}`,
    ];
  }
}

/** Values read at scrape time, one series per label set (none when `read` returns none). */
export class LabelledGauge implements Metric {
  /** A gauge named `name` whose series `read` returns at scrape time. */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly read: () => Iterable<readonly [Labels, number]>,
  ) {}
  /** Exposition lines. */
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const [labels, value] of this.read()) {
      lines.push(`${this.name}${braces(key(labels))} ${value}`);
    }
    return lines;
  }
}

/** Observations bucketed by upper bound, per label set. */
export class Histogram implements Metric {
  readonly #series = new Map<string, { counts: number[]; sum: number; count: number }>();
  /** A histogram named `name` with ascending bucket upper bounds `buckets`. */
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}
  /** Record one observation. */
  observe(value: number, labels: Labels = {}): void {
    const k = key(labels);
    let s = this.#series.get(k);
    if (!s) this.#series.set(k, s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 });
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
  /** Exposition lines. */
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.#series) {
      const sep = k ? "," : "";
      this.buckets.forEach((b, i) =>
        lines.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`)
      );
      lines.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${braces(k)} ${s.sum}`);
      lines.push(`${this.name}_count${braces(k)} ${s.count}`);
    }
    return lines;
  }
}

/** A set of metrics rendered together. */
export class MetricsRegistry {
  readonly #metrics: Metric[] = [];
  /** Register and return a metric. */
  add<T extends Metric>(metric: T): T {
    this.#metrics.push(metric);
    return metric;
  }
  /** The whole registry in Prometheus text format. */
  render(): string {
    return this.#metrics.flatMap((m) => m.render()).join("\n") + "\n";
  }
}
