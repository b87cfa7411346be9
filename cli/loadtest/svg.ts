/**
 * The load test's chart: a standalone SVG latency histogram, one bar series per backend on a
 * log-x axis, with each series' p50 / p95 / p99 marked and its adapter named in the legend.
 * @module
 */

import { round } from "./stats.ts";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

/** One series of {@link renderSvg}: counts per bucket. */
export interface SvgSeries {
  readonly name: string;
  /** A second legend line, e.g. the backend's adapter. */
  readonly detail?: string;
  readonly counts: readonly number[];
  /** Marked as vertical lines (solid p50, dashed p95, dotted p99) and listed in the legend. */
  readonly percentiles?: {
    readonly p50: number | null;
    readonly p95: number | null;
    readonly p99: number | null;
  };
}

/** From the x axis to the legend's first line. */
const LEGEND_GAP = 72;

const MARKERS = [
  { key: "p50", dash: "" },
  { key: "p95", dash: "7 4" },
  { key: "p99", dash: "2 3" },
] as const;

/**
 * A standalone SVG latency histogram: one bar series per backend (share of its requests per
 * bucket, one `<rect class="bar">` per bucket and series), log-x axis with labelled decades,
 * percentile markers (`<line class="marker">`), and a legend with each series' n, percentiles
 * and detail.
 */
export function renderSvg(
  series: readonly SvgSeries[],
  edgesMs: readonly number[],
  options?: { title?: string },
): string {
  const title = options?.title ?? "Latency histogram";
  const g = svgGeometry(edgesMs, series.length);
  const yMax = niceMax(Math.max(0, ...series.map(shareMax)));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${g.width}" height="${g.height}" ` +
    `viewBox="0 0 ${g.width} ${g.height}" font-family="sans-serif" font-size="12">`,
    `<rect class="bg" x="0" y="0" width="${g.width}" height="${g.height}" fill="#fff"/>`,
    `<text x="${g.width / 2}" y="22" text-anchor="middle" font-size="15">${xml(title)}</text>`,
    ...yAxis(g, yMax),
    ...xAxis(g, edgesMs),
    ...series.flatMap((s, i) => bars(g, edgesMs, s, i, series.length, yMax)),
    ...series.flatMap((s, i) => markers(g, edgesMs, s, i)),
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

/** The plot area; the legend goes under the x axis, two lines per series. */
function svgGeometry(edgesMs: readonly number[], nSeries: number): Geometry {
  const [width, left, right, top, bottom] = [900, 70, 870, 40, 420];
  const height = bottom + LEGEND_GAP + (nSeries * 2 + 1) * 16 + 12;
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

/** Vertical lines at the series' p50 / p95 / p99 (clamped to the axis), labelled at the top. */
function markers(g: Geometry, edgesMs: readonly number[], s: SvgSeries, index: number): string[] {
  const p = s.percentiles;
  if (!p) return [];
  const color = COLORS[index % COLORS.length];
  const lo = edgesMs[0];
  const hi = edgesMs[edgesMs.length - 1];
  return MARKERS.flatMap(({ key, dash }) => {
    const v = p[key];
    if (v === null) return [];
    const x = round(g.x(Math.min(hi, Math.max(lo, v))), 2);
    const y = g.top + 4;
    return [
      `<line class="marker" x1="${x}" y1="${g.top}" x2="${x}" y2="${g.bottom}" stroke="${color}" ` +
      `stroke-width="1.5"${dash ? ` stroke-dasharray="${dash}"` : ""}>` +
      `<title>${xml(s.name)} ${key} ${fmtMs(v)}</title></line>`,
      `<text class="marker-label" x="${x - 3}" y="${y}" font-size="10" fill="${color}" ` +
      `text-anchor="end" stroke="#fff" stroke-width="3" paint-order="stroke" ` +
      `transform="rotate(-90 ${x - 3} ${y})">${key} ${fmtMs(v)}</text>`,
    ];
  });
}

/** Under the plot: the marker key, then per series its n, percentiles and detail. */
function legend(g: Geometry, series: readonly SvgSeries[]): string[] {
  const x = g.left;
  const top = g.bottom + LEGEND_GAP;
  const key = MARKERS.map(({ key, dash }, i) => {
    const kx = x + i * 90;
    return `<line x1="${kx}" y1="${top - 4}" x2="${kx + 24}" y2="${top - 4}" stroke="#333" ` +
      `stroke-width="1.5"${dash ? ` stroke-dasharray="${dash}"` : ""}/>` +
      `<text x="${kx + 30}" y="${top}">${key}</text>`;
  });
  return [
    ...key,
    ...series.flatMap((s, i) => {
      const y = top + (2 * i + 1) * 16;
      const n = s.counts.reduce((a, b) => a + b, 0);
      const p = s.percentiles;
      const pcts = p
        ? `: ${
          MARKERS.map(({ key }) => `${key} ${p[key] === null ? "-" : fmtMs(p[key]!)}`).join(", ")
        }`
        : "";
      const out = [
        `<rect class="legend" x="${x}" y="${y - 9}" width="10" height="10" ` +
        `fill="${COLORS[i % COLORS.length]}"/>`,
        `<text class="legend-name" x="${x + 16}" y="${y}">${xml(s.name)} (n=${n})${pcts}</text>`,
      ];
      if (s.detail) {
        out.push(
          `<text class="legend-detail" x="${x + 16}" y="${y + 16}" fill="#555">${
            xml(clip(s.detail, 110))
          }</text>`,
        );
      }
      return out;
    }),
  ];
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${fmtNum(round(ms / 1000, 2))} s` : `${Number(ms.toPrecision(3))} ms`;
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
