/**
 * The load test's runner: `concurrency` closed-loop clients per backend phase against a running
 * saeserve, each request timed and counted, then the phase summarized.
 * @module
 */

import { gaussian, type Random, seededRandom } from "../../domain/random.ts";
import { CliError } from "../run.ts";
import {
  type LoadtestOptions,
  LoadtestUsageError,
  type MixKind,
  type Resolved,
  resolveOptions,
} from "./options.ts";
import { formatTable, type LoadtestReport, type PhaseReport, writeReport } from "./report.ts";
import { LATENCY_EDGES_MS, round, summarizeLatencies } from "./stats.ts";
import { adapterFor, type AdapterInfo, readReady } from "./adapters.ts";
import { progressLine } from "./progress.ts";

const PHASE_GRACE_MS = 1_000;
const POOL_BYTES = 64 << 20;
const MAX_BODY_CHARS = 400e6;

/** JSON text of a rows x cols matrix of standard normals (4 decimals). */
function normalRowsJson(rows: number, cols: number, rand: Random): string {
  const normal = gaussian(rand);
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const row = new Array<number>(cols);
    for (let c = 0; c < cols; c++) row[c] = Math.round(normal() * 1e4) / 1e4;
    out.push(`[${row.join(",")}]`);
  }
  return `[${out.join(",")}]`;
}

interface Workload {
  pool: string[];
  dSae: number;
  rand: Random;
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

/** Calls `r.progress` with the phase so far once a second; the returned function stops it. */
function startProgress(ctx: PhaseContext, start: number): () => void {
  const sink = ctx.r.progress;
  if (!sink) return () => {};
  const line = (): string =>
    progressLine({
      backend: ctx.backend,
      elapsedS: (performance.now() - start) / 1000,
      durationS: ctx.r.duration,
      requests: ctx.state.requests,
      latencies: ctx.state.latencies,
      errors: ctx.state.requests - ctx.state.ok,
    });
  const timer = setInterval(() => sink(line(), false), 1000);
  return () => {
    clearInterval(timer);
    sink(line(), true);
  };
}

async function runPhase(
  r: Resolved,
  w: Workload,
  phase: { backend: string; adapter: AdapterInfo },
): Promise<PhaseReport> {
  const { backend } = phase;
  const stop = new AbortController();
  const durationMs = r.duration * 1000;
  const start = performance.now();
  const timer = setTimeout(() => stop.abort(), durationMs);
  let seq = 0;
  const ctx: PhaseContext = {
    r,
    w,
    backend,
    base: `${r.url.origin}/v1/dictionaries/${encodeURIComponent(r.dictionary)}`,
    signal: stop.signal,
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
  const stopProgress = startProgress(ctx, start);
  const clients = Promise.all(Array.from({ length: r.concurrency }, () => client(ctx)));
  try {
    await settleAfterAbort(clients, stop.signal, PHASE_GRACE_MS);
  } finally {
    clearTimeout(timer);
    stop.abort();
    stopProgress();
  }
  return summarizePhase(
    phase,
    ctx.state,
    Math.min(performance.now() - start, durationMs),
    r.rows,
  );
}

function summarizePhase(
  { backend, adapter }: { backend: string; adapter: AdapterInfo },
  s: PhaseState,
  elapsedMs: number,
  rows: number,
): PhaseReport {
  const { latencyMs, histogram } = summarizeLatencies(s.latencies);
  const elapsedS = elapsedMs / 1000;
  const reportedBackends = Object.fromEntries(s.reported);
  return {
    backend,
    adapter,
    reportedBackends,
    backendMismatch: Object.keys(reportedBackends).some((b) => b !== backend),
    requests: s.requests,
    ok: s.ok,
    errors: Object.fromEntries([...s.statuses].sort(([a], [b]) => a.localeCompare(b))),
    byKind: Object.fromEntries(s.byKind),
    elapsedS: round(elapsedS, 3),
    reqPerS: round(s.requests / elapsedS, 2),
    rowsPerS: round((s.ok * rows) / elapsedS, 2),
    latencyMs,
    histogram,
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
      throw new CliError(`cannot reach ${r.url.origin} (${e.message}${cause})`);
    });
    const text = await res.text();
    if (!res.ok) throw new CliError(`GET dictionary ${r.dictionary}: HTTP ${res.status} ${text}`);
    const meta = JSON.parse(text) as { d_in?: unknown; d_sae?: unknown; error?: unknown };
    if (typeof meta.d_in !== "number" || typeof meta.d_sae !== "number") {
      throw new CliError(
        `dictionary ${r.dictionary} has no d_in/d_sae (${meta.error ?? "unknown"})`,
      );
    }
    return { dIn: meta.d_in, dSae: meta.d_sae };
  } finally {
    clearTimeout(timer);
  }
}

function workload(r: Resolved, dIn: number, dSae: number): Workload {
  const rand = seededRandom(r.seed);
  const perMatrix = r.rows * dIn * 8;
  if (perMatrix > MAX_BODY_CHARS) {
    throw new LoadtestUsageError(
      `${r.rows} rows x d_in ${dIn} makes a JSON body too large to build; lower --rows`,
    );
  }
  const size = Math.max(1, Math.min(8, Math.floor(POOL_BYTES / perMatrix)));
  const pool = Array.from({ length: size }, () => normalRowsJson(r.rows, dIn, rand));
  return { pool, dSae, rand: seededRandom(r.seed ^ 0x5eed) };
}

/**
 * One encode on `backend` before its phase (waited for at most 1 s): a service that refuses the
 * backend (no such adapter), or answers on another one (overrides not allowed), stops the run
 * with an explanation instead of a whole phase of 4xx or of the wrong backend.
 */
async function preflight(r: Resolved, ask: { backend: string; body: string }): Promise<void> {
  const res = await fetch(
    `${r.url.origin}/v1/dictionaries/${encodeURIComponent(r.dictionary)}/encode`,
    {
      method: "POST",
      headers: {
        ...r.headers,
        "content-type": "application/json",
        "x-saeserve-backend": ask.backend,
      },
      body: ask.body,
      redirect: "manual",
      // A slow or hung answer says nothing about the backend: the phase will measure it.
      signal: AbortSignal.timeout(Math.min(r.requestTimeoutMs, 1000)),
    },
  ).catch(() => null);
  if (!res) return;
  const text = await res.text().catch(() => "");
  if (res.status >= 400 && res.status < 500 && res.status !== 429) {
    let detail = text.slice(0, 300);
    try {
      detail = String(JSON.parse(text).detail ?? detail);
    } catch { /* not problem+json */ }
    throw new CliError(`the service refused backend ${ask.backend}: HTTP ${res.status}: ${detail}`);
  }
  const answered = res.headers.get("x-saeserve-backend");
  if (res.ok && answered && answered !== ask.backend) {
    throw new CliError(
      `asked for backend ${ask.backend}, the service answered on ${answered}: it picks the ` +
        "backend itself unless started with SAESERVE_ALLOW_BACKEND_OVERRIDE=1 (or pass " +
        `--backends ${answered})`,
    );
  }
}

/** Run one phase per backend against the service and write the report files. */
export async function runLoadtest(options: LoadtestOptions): Promise<LoadtestReport> {
  const r = resolveOptions(options);
  const startedAt = new Date().toISOString();
  const { dIn, dSae } = await describe(r);
  const w = workload(r, dIn, dSae);
  const ready = await readReady(r.url.origin, {
    headers: r.headers,
    timeoutMs: r.requestTimeoutMs,
  });
  const phases: PhaseReport[] = [];
  for (const backend of r.backends) {
    await preflight(r, { backend, body: bodyFor("encode", w, 0) });
    const phase = await runPhase(r, w, { backend, adapter: adapterFor(backend, ready) });
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
