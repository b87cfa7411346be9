/**
 * `deno task loadtest --url URL --dictionary ID [--rows 1] [--concurrency 32] [--duration 30]
 * [--backends webgpu,wasm] [--mix encode,steer] [--out DIR] [--seed 0]`: drive a running saeserve
 * on this machine with `concurrency` closed-loop clients for `duration` seconds per backend
 * (chosen per request with the `X-Saeserve-Backend` header, which the service honours when
 * $SAESERVE_ALLOW_BACKEND_OVERRIDE=1). Prints a table per backend and writes OUT/loadtest.json
 * and OUT/loadtest.svg (latency histogram). Only loopback URLs are accepted. $SAESERVE_API_KEY,
 * when set, is sent as `Authorization: Bearer <key>` (never printed or written).
 * @module
 */

import { parseArgs } from "node:util";

/** The request kinds a load test can mix. */
/** Request kinds: encode; steer (add: no encode needed); clamp (a steer that encodes first). */
export type MixKind = "encode" | "steer" | "clamp";

/** What {@link runLoadtest} is asked to do. */
export interface LoadtestOptions {
  /** Base URL of the service; must be loopback. */
  readonly url: string;
  /** Dictionary id (sent URL-encoded as one path segment). */
  readonly dictionary: string;
  /** Activation rows per request (1..4096). */
  readonly rows?: number;
  /** Closed-loop clients (1..1024). */
  readonly concurrency?: number;
  /** Seconds per backend phase (0 < d <= 3600). */
  readonly duration?: number;
  /** One phase per backend, in order. */
  readonly backends?: readonly string[];
  /** Request kinds, taken round-robin. */
  readonly mix?: readonly MixKind[];
  /** Folder for loadtest.json and loadtest.svg; null writes nothing. */
  readonly out?: string | null;
  /** Seed of the activations and steered features. */
  readonly seed?: number;
  /** Per-request timeout in milliseconds (default 30 000). */
  readonly requestTimeoutMs?: number;
  /** Sent as `Authorization: Bearer <key>` when set; never printed or written. */
  readonly apiKey?: string;
  /** Where the tables go (default console.log). */
  readonly log?: (line: string) => void;
}

/** Latency summary of one phase, in milliseconds (2xx responses only; null when none). */
export interface LatencySummary {
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  readonly mean: number | null;
}

/** The figures of one backend phase. */
export interface PhaseReport {
  /** The backend asked for in X-Saeserve-Backend. */
  readonly backend: string;
  /** Response count per backend the service reported in X-Saeserve-Backend. */
  readonly reportedBackends: Record<string, number>;
  /** True when some response reported a backend other than the one asked for. */
  readonly backendMismatch: boolean;
  /** Completed requests (any outcome; requests cut off at the phase end are not counted). */
  readonly requests: number;
  /** 2xx responses. */
  readonly ok: number;
  /** Failures by HTTP status code, or "timeout" / "network". */
  readonly errors: Record<string, number>;
  /** Completed requests per kind. */
  readonly byKind: Record<string, number>;
  /** Measured phase length in seconds. */
  readonly elapsedS: number;
  /** Completed requests per second. */
  readonly reqPerS: number;
  /** Activation rows of 2xx responses per second. */
  readonly rowsPerS: number;
  /** Latency of 2xx responses. */
  readonly latencyMs: LatencySummary;
  /** Counts of 2xx latencies per histogram bucket (see LoadtestReport.histogramEdgesMs). */
  readonly histogram: number[];
}

/** Everything {@link runLoadtest} measured. */
export interface LoadtestReport {
  readonly url: string;
  readonly dictionary: string;
  readonly dIn: number;
  readonly dSae: number;
  readonly rows: number;
  readonly concurrency: number;
  readonly durationS: number;
  readonly mix: readonly MixKind[];
  readonly seed: number;
  readonly requestTimeoutMs: number;
  readonly startedAt: string;
  /** Bucket edges in ms: bucket i holds [edges[i], edges[i+1]); the ends catch what lies beyond. */
  readonly histogramEdgesMs: number[];
  readonly phases: PhaseReport[];
  /** Paths written, if any. */
  readonly files: string[];
}

/** A bad option: the CLI answers these with exit code 2. */
export class LoadtestUsageError extends Error {
  override name = "LoadtestUsageError";
}

/** Hard caps on the options. */
export const LIMITS = { concurrency: 1024, durationS: 3600, rows: 4096 } as const;

/** Latency histogram edges in ms: 10 log-spaced buckets per decade from 0.1 ms to 10 s. */
export const LATENCY_EDGES_MS: readonly number[] = logEdges(0.1, 10_000, 10);

const MIX_KINDS: readonly MixKind[] = ["encode", "steer", "clamp"];
const DEFAULT_TIMEOUT_MS = 30_000;
const PHASE_GRACE_MS = 1_000;
const POOL_BYTES = 64 << 20;
const MAX_BODY_CHARS = 400e6;
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

/** `n` log-spaced edges per decade from `min` to `max` inclusive. */
export function logEdges(min: number, max: number, perDecade: number): number[] {
  const steps = Math.round(Math.log10(max / min) * perDecade);
  return Array.from({ length: steps + 1 }, (_, i) => round(min * 10 ** (i / perDecade), 6));
}

/** Nearest-rank percentile `p` (0..100) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside 0..100`);
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Counts per bucket: bucket i holds [buckets[i], buckets[i+1]) for ascending edges `buckets`;
 * values below the first edge land in bucket 0, values at or past the last in the last bucket.
 */
export function histogram(latencies: Iterable<number>, buckets: readonly number[]): number[] {
  if (buckets.length < 2) throw new RangeError("histogram needs at least two edges");
  const counts = new Array<number>(buckets.length - 1).fill(0);
  for (const v of latencies) counts[bucketOf(v, buckets)]++;
  return counts;
}

function bucketOf(v: number, edges: readonly number[]): number {
  let lo = 0;
  let hi = edges.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (v >= edges[mid]) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** True when `url`'s host is loopback: 127.0.0.0/8, ::1 (also IPv4-mapped) or localhost. */
export function isLoopback(url: string | URL): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const host = parsed.hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host === "[::1]") return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return true;
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host);
}

/** One series of {@link renderSvg}: counts per bucket. */
export interface SvgSeries {
  readonly name: string;
  readonly counts: readonly number[];
}

/**
 * A standalone SVG latency histogram: one bar series per backend (share of its requests per
 * bucket, one `<rect class="bar">` per bucket and series), log-x axis with labelled decades, legend.
 */
export function renderSvg(
  series: readonly SvgSeries[],
  edgesMs: readonly number[],
  title = "Latency histogram",
): string {
  const g = svgGeometry(edgesMs);
  const yMax = niceMax(Math.max(0, ...series.map(shareMax)));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${g.width}" height="${g.height}" ` +
    `viewBox="0 0 ${g.width} ${g.height}" font-family="sans-serif" font-size="12">`,
    `<rect class="bg" x="0" y="0" width="${g.width}" height="${g.height}" fill="#fff"/>`,
    `<text x="${g.width / 2}" y="22" text-anchor="middle" font-size="15">${xml(title)}</text>`,
    ...yAxis(g, yMax),
    ...xAxis(g, edgesMs),
    ...series.flatMap((s, i) => bars(g, edgesMs, s, i, series.length, yMax)),
    ...legend(g, series),
  ];
  return parts.join("\n") + "\n</svg>\n";
}

interface Geometry {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  x: (ms: number) => number;
}

function svgGeometry(edgesMs: readonly number[]): Geometry {
  const [width, height, left, right, top, bottom] = [900, 480, 70, 870, 40, 420];
  const lo = Math.log10(edgesMs[0]);
  const hi = Math.log10(edgesMs[edgesMs.length - 1]);
  const x = (ms: number): number => left + ((Math.log10(ms) - lo) / (hi - lo)) * (right - left);
  return { width, height, left, right, top, bottom, x };
}

function shareMax(s: SvgSeries): number {
  const total = s.counts.reduce((a, b) => a + b, 0);
  return total ? Math.max(...s.counts) / total : 0;
}

function niceMax(share: number): number {
  const pct = share * 100;
  for (const m of [1, 2, 5, 10, 20, 25, 50, 75, 100]) if (pct <= m) return m;
  return 100;
}

function yAxis(g: Geometry, yMaxPct: number): string[] {
  const out = [line(g.left, g.top, g.left, g.bottom)];
  for (let i = 0; i <= 5; i++) {
    const v = (yMaxPct * i) / 5;
    const y = g.bottom - ((g.bottom - g.top) * i) / 5;
    out.push(`<line x1="${g.left}" y1="${y}" x2="${g.right}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${g.left - 6}" y="${y + 4}" text-anchor="end">${fmtNum(v)}%</text>`);
  }
  const mid = (g.top + g.bottom) / 2;
  out.push(
    `<text x="18" y="${mid}" text-anchor="middle" transform="rotate(-90 18 ${mid})">` +
      `share of 2xx responses</text>`,
  );
  return out;
}

function xAxis(g: Geometry, edgesMs: readonly number[]): string[] {
  const out = [line(g.left, g.bottom, g.right, g.bottom)];
  const lo = Math.ceil(Math.log10(edgesMs[0]) - 1e-9);
  const hi = Math.floor(Math.log10(edgesMs[edgesMs.length - 1]) + 1e-9);
  for (let d = lo; d <= hi; d++) {
    const x = round(g.x(10 ** d), 2);
    out.push(line(x, g.bottom, x, g.bottom + 6));
    out.push(`<text x="${x}" y="${g.bottom + 20}" text-anchor="middle">${msLabel(10 ** d)}</text>`);
  }
  out.push(
    `<text x="${(g.left + g.right) / 2}" y="${g.bottom + 44}" text-anchor="middle">` +
      `latency (log scale)</text>`,
  );
  return out;
}

function bars(
  g: Geometry,
  edgesMs: readonly number[],
  s: SvgSeries,
  index: number,
  nSeries: number,
  yMaxPct: number,
): string[] {
  const total = s.counts.reduce((a, b) => a + b, 0) || 1;
  const color = COLORS[index % COLORS.length];
  return s.counts.map((c, b) => {
    const x0 = g.x(edgesMs[b]);
    const w = (g.x(edgesMs[b + 1]) - x0) / nSeries;
    const h = ((c / total) * 100 / yMaxPct) * (g.bottom - g.top);
    return `<rect class="bar" x="${round(x0 + w * index, 2)}" y="${round(g.bottom - h, 2)}" ` +
      `width="${round(w, 2)}" height="${round(h, 2)}" fill="${color}" fill-opacity="0.85">` +
      `<title>${xml(s.name)} ${fmtNum(edgesMs[b])}-${fmtNum(edgesMs[b + 1])} ms: ${c}</title>` +
      `</rect>`;
  });
}

function legend(g: Geometry, series: readonly SvgSeries[]): string[] {
  const box = `<rect class="legend-bg" x="${g.right - 198}" y="${g.top - 4}" width="196" ` +
    `height="${series.length * 18 + 8}" fill="#fff" fill-opacity="0.8" stroke="#ccc"/>`;
  return [
    box,
    ...series.flatMap((s, i) => {
      const y = g.top + 8 + i * 18;
      const n = s.counts.reduce((a, b) => a + b, 0);
      return [
        `<rect class="legend" x="${g.right - 190}" y="${y - 9}" width="10" height="10" ` +
        `fill="${COLORS[i % COLORS.length]}"/>`,
        `<text x="${g.right - 175}" y="${y}">${xml(s.name)} (n=${n})</text>`,
      ];
    }),
  ];
}

function line(x1: number, y1: number, x2: number, y2: number): string {
  return `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="#333"/>`;
}

function msLabel(ms: number): string {
  return ms >= 1000 ? `${fmtNum(ms / 1000)} s` : `${fmtNum(ms)} ms`;
}

function fmtNum(v: number): string {
  return String(round(v, 3));
}

function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

interface Resolved {
  url: URL;
  dictionary: string;
  rows: number;
  concurrency: number;
  duration: number;
  backends: string[];
  mix: MixKind[];
  out: string | null;
  seed: number;
  requestTimeoutMs: number;
  headers: Record<string, string>;
  log: (line: string) => void;
}

function resolveOptions(o: LoadtestOptions): Resolved {
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new LoadtestUsageError(`--url ${JSON.stringify(o.url)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new LoadtestUsageError(`--url must be http:// or https://, got ${url.protocol}`);
  }
  if (!isLoopback(url)) {
    throw new LoadtestUsageError(
      `refusing to load-test ${url.host}: only loopback hosts (127.0.0.0/8, ::1, localhost) ` +
        `are allowed`,
    );
  }
  if (!o.dictionary) throw new LoadtestUsageError("--dictionary is required");
  const backends = [...(o.backends ?? ["webgpu", "wasm"])];
  if (!backends.length || backends.some((b) => !/^[A-Za-z0-9_.-]+$/.test(b))) {
    throw new LoadtestUsageError(`--backends must be a comma list of names, got ${backends}`);
  }
  const mix = [...(o.mix ?? MIX_KINDS)];
  if (!mix.length || mix.some((m) => !MIX_KINDS.includes(m))) {
    throw new LoadtestUsageError(`--mix must be a comma list of encode, steer; got ${mix}`);
  }
  return {
    url,
    dictionary: o.dictionary,
    rows: intIn("rows", o.rows ?? 1, 1, LIMITS.rows),
    concurrency: intIn("concurrency", o.concurrency ?? 32, 1, LIMITS.concurrency),
    duration: secondsIn(o.duration ?? 30),
    backends,
    mix,
    out: o.out === undefined ? "." : o.out,
    seed: Math.trunc(o.seed ?? 0),
    requestTimeoutMs: intIn("requestTimeoutMs", o.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS, 1, 3.6e6),
    headers: o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {},
    log: o.log ?? console.log,
  };
}

function intIn(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new LoadtestUsageError(`--${name} must be an integer in ${min}..${max}, got ${v}`);
  }
  return v;
}

function secondsIn(v: number): number {
  if (!(v > 0 && v <= LIMITS.durationS)) {
    throw new LoadtestUsageError(`--duration must be in (0, ${LIMITS.durationS}] s, got ${v}`);
  }
  return v;
}

/** A seeded uniform generator on [0, 1) (mulberry32). */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** JSON text of a rows x cols matrix of standard normals (Box-Muller, 4 decimals). */
function normalRowsJson(rows: number, cols: number, rand: () => number): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const row = new Array<number>(cols);
    for (let c = 0; c < cols; c++) {
      const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
      row[c] = Math.round(z * 1e4) / 1e4;
    }
    out.push(`[${row.join(",")}]`);
  }
  return `[${out.join(",")}]`;
}

interface Workload {
  pool: string[];
  dSae: number;
  rand: () => number;
}

function bodyFor(kind: MixKind, w: Workload, seq: number): string {
  const acts = w.pool[seq % w.pool.length];
  if (kind === "encode") return `{"activations":${acts},"top":16}`;
  const feature = Math.floor(w.rand() * w.dSae);
  const mode = kind === "clamp" ? "clamp" : "add";
  return `{"activations":${acts},"interventions":[{"feature":${feature},"mode":"${mode}","value":2}]}`;
}

interface PhaseState {
  latencies: number[];
  statuses: Map<string, number>;
  reported: Map<string, number>;
  byKind: Map<string, number>;
  ok: number;
  requests: number;
}

interface PhaseContext {
  r: Resolved;
  w: Workload;
  backend: string;
  base: string;
  signal: AbortSignal;
  deadline: number;
  state: PhaseState;
  next: () => number;
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** One request with its own timeout, recorded unless the phase ended while it ran. */
async function oneRequest(ctx: PhaseContext, seq: number): Promise<void> {
  const kind = ctx.r.mix[seq % ctx.r.mix.length];
  const body = bodyFor(kind, ctx.w, seq);
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), ctx.r.requestTimeoutMs);
  const start = performance.now();
  try {
    const res = await fetch(`${ctx.base}/${kind === "clamp" ? "steer" : kind}`, {
      method: "POST",
      headers: {
        ...ctx.r.headers,
        "content-type": "application/json",
        "x-saeserve-backend": ctx.backend,
      },
      body,
      redirect: "manual",
      signal: AbortSignal.any([ctx.signal, timeout.signal]),
    });
    await res.arrayBuffer();
    if (ctx.signal.aborted) return;
    record(ctx.state, kind, res, performance.now() - start);
  } catch {
    if (ctx.signal.aborted) return;
    ctx.state.requests++;
    bump(ctx.state.byKind, kind);
    bump(ctx.state.statuses, timeout.signal.aborted ? "timeout" : "network");
  } finally {
    clearTimeout(timer);
  }
}

function record(state: PhaseState, kind: MixKind, res: Response, ms: number): void {
  state.requests++;
  bump(state.byKind, kind);
  const reported = res.headers.get("x-saeserve-backend");
  if (reported) bump(state.reported, reported);
  if (res.status >= 200 && res.status < 300) {
    state.ok++;
    state.latencies.push(ms);
  } else {
    bump(state.statuses, String(res.status));
  }
}

async function client(ctx: PhaseContext): Promise<void> {
  while (!ctx.signal.aborted && performance.now() < ctx.deadline) {
    await oneRequest(ctx, ctx.next());
  }
}

/** Waits for `p`, or at most `ms` once `signal` has aborted; clears its own timers. */
async function settleAfterAbort(
  p: Promise<unknown>,
  signal: AbortSignal,
  ms: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = (resolve: () => void): void => {
    timer = setTimeout(resolve, ms);
  };
  const cutoff = new Promise<void>((resolve) => {
    if (signal.aborted) onAbort(resolve);
    else signal.addEventListener("abort", () => onAbort(resolve), { once: true });
  });
  try {
    await Promise.race([p, cutoff]);
  } finally {
    clearTimeout(timer);
  }
}

async function runPhase(r: Resolved, w: Workload, backend: string): Promise<PhaseReport> {
  const phase = new AbortController();
  const durationMs = r.duration * 1000;
  const start = performance.now();
  const timer = setTimeout(() => phase.abort(), durationMs);
  let seq = 0;
  const ctx: PhaseContext = {
    r,
    w,
    backend,
    base: `${r.url.origin}/v1/dictionaries/${encodeURIComponent(r.dictionary)}`,
    signal: phase.signal,
    deadline: start + durationMs,
    state: {
      latencies: [],
      statuses: new Map(),
      reported: new Map(),
      byKind: new Map(),
      ok: 0,
      requests: 0,
    },
    next: () => seq++,
  };
  const clients = Promise.all(Array.from({ length: r.concurrency }, () => client(ctx)));
  try {
    await settleAfterAbort(clients, phase.signal, PHASE_GRACE_MS);
  } finally {
    clearTimeout(timer);
    phase.abort();
  }
  return summarizePhase(
    backend,
    ctx.state,
    Math.min(performance.now() - start, durationMs),
    r.rows,
  );
}

function summarizePhase(
  backend: string,
  s: PhaseState,
  elapsedMs: number,
  rows: number,
): PhaseReport {
  const sorted = Float64Array.from(s.latencies).sort();
  const pick = (
    p: number,
  ): number | null => (sorted.length ? round(percentile(sorted, p), 3) : null);
  const elapsedS = elapsedMs / 1000;
  const reportedBackends = Object.fromEntries(s.reported);
  return {
    backend,
    reportedBackends,
    backendMismatch: Object.keys(reportedBackends).some((b) => b !== backend),
    requests: s.requests,
    ok: s.ok,
    errors: Object.fromEntries([...s.statuses].sort(([a], [b]) => a.localeCompare(b))),
    byKind: Object.fromEntries(s.byKind),
    elapsedS: round(elapsedS, 3),
    reqPerS: round(s.requests / elapsedS, 2),
    rowsPerS: round((s.ok * rows) / elapsedS, 2),
    latencyMs: {
      p50: pick(50),
      p95: pick(95),
      p99: pick(99),
      max: pick(100),
      mean: sorted.length ? round(sorted.reduce((a, b) => a + b, 0) / sorted.length, 3) : null,
    },
    histogram: histogram(sorted, LATENCY_EDGES_MS),
  };
}

/** d_in and d_sae from GET /v1/dictionaries/{id}. */
async function describe(r: Resolved): Promise<{ dIn: number; dSae: number }> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), r.requestTimeoutMs);
  try {
    const res = await fetch(
      `${r.url.origin}/v1/dictionaries/${encodeURIComponent(r.dictionary)}`,
      { headers: r.headers, signal: timeout.signal, redirect: "manual" },
    ).catch((e: Error) => {
      const cause = e.cause instanceof Error ? `: ${e.cause.message}` : "";
      throw new Error(`cannot reach ${r.url.origin} (${e.message}${cause})`);
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`GET dictionary ${r.dictionary}: HTTP ${res.status} ${text}`);
    const meta = JSON.parse(text) as { d_in?: unknown; d_sae?: unknown; error?: unknown };
    if (typeof meta.d_in !== "number" || typeof meta.d_sae !== "number") {
      throw new Error(`dictionary ${r.dictionary} has no d_in/d_sae (${meta.error ?? "unknown"})`);
    }
    return { dIn: meta.d_in, dSae: meta.d_sae };
  } finally {
    clearTimeout(timer);
  }
}

function workload(r: Resolved, dIn: number, dSae: number): Workload {
  const rand = uniform(r.seed);
  const perMatrix = r.rows * dIn * 8;
  if (perMatrix > MAX_BODY_CHARS) {
    throw new LoadtestUsageError(
      `${r.rows} rows x d_in ${dIn} makes a JSON body too large to build; lower --rows`,
    );
  }
  const size = Math.max(1, Math.min(8, Math.floor(POOL_BYTES / perMatrix)));
  const pool = Array.from({ length: size }, () => normalRowsJson(r.rows, dIn, rand));
  return { pool, dSae, rand: uniform(r.seed ^ 0x5eed) };
}

/** Run one phase per backend against the service and write the report files. */
export async function runLoadtest(options: LoadtestOptions): Promise<LoadtestReport> {
  const r = resolveOptions(options);
  const startedAt = new Date().toISOString();
  const { dIn, dSae } = await describe(r);
  const w = workload(r, dIn, dSae);
  const phases: PhaseReport[] = [];
  for (const backend of r.backends) {
    const phase = await runPhase(r, w, backend);
    phases.push(phase);
    for (const l of formatTable(phase, r)) r.log(l);
  }
  const report: LoadtestReport = {
    url: r.url.origin,
    dictionary: r.dictionary,
    dIn,
    dSae,
    rows: r.rows,
    concurrency: r.concurrency,
    durationS: r.duration,
    mix: r.mix,
    seed: r.seed,
    requestTimeoutMs: r.requestTimeoutMs,
    startedAt,
    histogramEdgesMs: [...LATENCY_EDGES_MS],
    phases,
    files: [],
  };
  return r.out === null ? report : await writeReport(report, r.out);
}

async function writeReport(report: LoadtestReport, dir: string): Promise<LoadtestReport> {
  await Deno.mkdir(dir, { recursive: true });
  const json = `${dir}/loadtest.json`;
  const svg = `${dir}/loadtest.svg`;
  const full = { ...report, files: [json, svg] };
  await Deno.writeTextFile(json, JSON.stringify(full, null, 2) + "\n");
  const series = report.phases.map((p) => ({ name: seriesName(p), counts: p.histogram }));
  const title = `${report.dictionary}: latency, ${report.rows} row(s), ` +
    `concurrency ${report.concurrency}, mix ${report.mix.join("+")}`;
  await Deno.writeTextFile(svg, renderSvg(series, report.histogramEdgesMs, title));
  return full;
}

function seriesName(p: PhaseReport): string {
  const got = Object.keys(p.reportedBackends);
  return p.backendMismatch ? `${p.backend} (served by ${got.join(", ")})` : p.backend;
}

/** The stdout table of one phase. */
export function formatTable(
  p: PhaseReport,
  r: { readonly concurrency: number; readonly rows: number },
): string[] {
  const ms = (v: number | null): string => (v === null ? "-" : v.toFixed(2));
  const errors = Object.entries(p.errors).map(([k, v]) => `${k}: ${v}`).join(", ") || "none";
  const reported = Object.entries(p.reportedBackends).map(([k, v]) => `${k} (${v})`).join(", ");
  const header = ["requests", "req/s", "rows/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"];
  const cells = [
    String(p.requests),
    p.reqPerS.toFixed(1),
    p.rowsPerS.toFixed(1),
    ms(p.latencyMs.p50),
    ms(p.latencyMs.p95),
    ms(p.latencyMs.p99),
    ms(p.latencyMs.max),
    errors,
  ];
  const widths = header.map((h, i) => Math.max(h.length, cells[i].length));
  const row = (xs: string[]): string => xs.map((x, i) => x.padEnd(widths[i])).join("  ").trimEnd();
  const lines = [
    `backend ${p.backend}: ${p.elapsedS.toFixed(1)} s, concurrency ${r.concurrency}, ` +
    `rows ${r.rows}, served by ${reported || "(no X-Saeserve-Backend)"}`,
    row(header),
    row(widths.map((w) => "-".repeat(w))),
    row(cells),
  ];
  if (p.backendMismatch) {
    lines.push(
      `WARNING: asked for ${p.backend}, the service reported ${reported} ` +
        `(is SAESERVE_ALLOW_BACKEND_OVERRIDE=1 set?)`,
    );
  }
  return [...lines, ""];
}

const USAGE = "usage: deno task loadtest --url URL --dictionary ID [--rows 1] [--concurrency 32] " +
  "[--duration 30] [--backends webgpu,wasm] [--mix encode,steer] [--out DIR] [--seed 0]";

function list(s: string): string[] {
  return s.split(",").map((x) => x.trim()).filter(Boolean);
}

function num(name: string, s: string): number {
  const v = Number(s);
  if (s.trim() === "" || !Number.isFinite(v)) {
    throw new LoadtestUsageError(`--${name} must be a number, got ${JSON.stringify(s)}`);
  }
  return v;
}

/** Parse the CLI arguments into options. */
export function parseCli(args: string[]): LoadtestOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        url: { type: "string" },
        dictionary: { type: "string" },
        rows: { type: "string", default: "1" },
        concurrency: { type: "string", default: "32" },
        duration: { type: "string", default: "30" },
        backends: { type: "string", default: "webgpu,wasm" },
        mix: { type: "string", default: "encode,steer" },
        out: { type: "string", default: "." },
        seed: { type: "string", default: "0" },
      },
      strict: true,
    }));
  } catch (e) {
    throw new LoadtestUsageError((e as Error).message);
  }
  if (!values.url) throw new LoadtestUsageError("--url is required");
  if (!values.dictionary) throw new LoadtestUsageError("--dictionary is required");
  return {
    url: values.url,
    dictionary: values.dictionary,
    rows: num("rows", values.rows),
    concurrency: num("concurrency", values.concurrency),
    duration: num("duration", values.duration),
    backends: list(values.backends),
    mix: list(values.mix) as MixKind[],
    out: values.out,
    seed: num("seed", values.seed),
    apiKey: Deno.env.get("SAESERVE_API_KEY") || undefined,
  };
}

/** CLI entry: exit 0 on success, 2 on bad options (a non-loopback URL included), 1 otherwise. */
export async function main(args: string[]): Promise<number> {
  try {
    const report = await runLoadtest(parseCli(args));
    console.log(`wrote ${report.files.join(", ")}`);
    return 0;
  } catch (e) {
    if (e instanceof LoadtestUsageError) {
      console.error(`loadtest: ${e.message}\n${USAGE}`);
      return 2;
    }
    console.error(`loadtest: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
