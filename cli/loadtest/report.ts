/**
 * The load test's report: the figures of each phase, the stdout table, and the files written
 * (loadtest.json and the loadtest.svg chart).
 * @module
 */

import { type AdapterInfo, adapterLabel } from "./adapters.ts";
import type { MixKind } from "./options.ts";
import type { LatencySummary } from "./stats.ts";
import { renderSvg } from "./svg.ts";

/** The figures of one backend phase. */
export interface PhaseReport {
  /** The backend asked for in X-Saeserve-Backend. */
  readonly backend: string;
  /** The backend's adapter as the service reported it (/readyz), or what is known without it. */
  readonly adapter: AdapterInfo;
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

/** Everything a load test measured. */
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

/** Write DIR/loadtest.json and DIR/loadtest.svg; the report returned lists them. */
export async function writeReport(report: LoadtestReport, dir: string): Promise<LoadtestReport> {
  await Deno.mkdir(dir, { recursive: true });
  const json = `${dir}/loadtest.json`;
  const svg = `${dir}/loadtest.svg`;
  const full = { ...report, files: [json, svg] };
  await Deno.writeTextFile(json, JSON.stringify(full, null, 2) + "\n");
  const series = report.phases.map((p) => ({
    name: seriesName(p),
    detail: adapterLabel(p.adapter),
    counts: p.histogram,
    percentiles: p.latencyMs,
  }));
  const title = `${report.dictionary}: latency, ${report.rows} row(s), ` +
    `concurrency ${report.concurrency}, mix ${report.mix.join("+")}`;
  await Deno.writeTextFile(svg, renderSvg(series, report.histogramEdgesMs, { title }));
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
    `rows ${r.rows}, served by ${reported || "(no X-Saeserve-Backend)"}, ` +
    `adapter: ${adapterLabel(p.adapter)}`,
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
