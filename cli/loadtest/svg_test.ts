/**
 * The load test's SVG chart: one bar per bucket and series, bar heights as shares of each
 * series, a log-x axis with labelled decades, percentile markers, a legend naming each series'
 * percentiles and adapter, and escaped text.
 * @module
 */

import assert from "node:assert/strict";
import { renderSvg } from "./svg.ts";

Deno.test("renderSvg: one bar per bucket and series, log-x ticks, legend", () => {
  const edges = [0.1, 1, 10, 100];
  const svg = renderSvg([{ name: "webgpu", counts: [1, 2, 0] }, {
    name: "wasm<&>",
    counts: [0, 0, 3],
  }], edges);
  assert.ok(svg.startsWith("<svg"));
  assert.equal(svg.match(/<rect class="bar"/g)?.length, 6);
  assert.match(svg, />1 ms</);
  assert.match(svg, />webgpu \(n=3\)</);
  assert.match(svg, /wasm&#60;&#38;&#62;/);
  assert.ok(svg.trimEnd().endsWith("</svg>"));
});

Deno.test("renderSvg: bar heights are shares of each series, on a shared y scale", () => {
  const edges = [1, 10, 100];
  const svg = renderSvg([{ name: "a", counts: [1, 3] }, { name: "b", counts: [2, 0] }], edges, {
    title: "p<99>",
  });
  const heights = [...svg.matchAll(/<rect class="bar"[^>]* height="([\d.]+)"/g)].map((m) =>
    Number(m[1])
  );
  assert.equal(heights.length, 4);
  // a: 25 % and 75 %; b: 100 % and 0 %. The y axis tops out at 100 %, so b's first bar is full.
  const [a0, a1, b0, b1] = heights;
  assert.ok(Math.abs(a1 / a0 - 3) < 1e-6);
  assert.ok(Math.abs(b0 / a1 - 4 / 3) < 1e-6);
  assert.equal(b1, 0);
  assert.match(svg, />100%</);
  assert.match(svg, /p&#60;99&#62;/);
  assert.match(svg, />10 ms</);
  assert.match(svg, />100 ms</);
});

Deno.test("renderSvg: an empty series draws zero-height bars and n=0", () => {
  const svg = renderSvg([{ name: "idle", counts: [0, 0, 0] }], [0.1, 1, 10, 100]);
  assert.equal(svg.match(/<rect class="bar"[^>]* height="0"/g)?.length, 3);
  assert.match(svg, />idle \(n=0\)</);
  assert.match(svg, />Latency histogram</);
});

Deno.test("renderSvg: p50 / p95 / p99 markers per series and the adapter in the legend", () => {
  const edges = [0.1, 1, 10, 100, 1000];
  const svg = renderSvg([
    {
      name: "webgpu",
      detail: "llvmpipe (LLVM 15.0.6, 256 bits), software adapter",
      counts: [0, 5, 90, 5],
      percentiles: { p50: 4.2, p95: 31, p99: 2000 },
    },
    { name: "wasm", counts: [0, 0, 0, 0], percentiles: { p50: null, p95: null, p99: null } },
  ], edges);
  const markers = [...svg.matchAll(/<line class="marker" x1="([\d.]+)"[^>]*>/g)];
  assert.equal(markers.length, 3);
  assert.match(markers[1][0], /stroke-dasharray="7 4"/);
  // p99 beyond the last edge is drawn at the axis end, labelled with its value.
  assert.equal(Number(markers[2][1]), 870);
  assert.match(svg, />p50 4\.2 ms</);
  assert.match(svg, />p95 31 ms</);
  assert.match(svg, />p99 2 s</);
  assert.match(svg, />webgpu \(n=100\): p50 4\.2 ms, p95 31 ms, p99 2 s</);
  assert.match(svg, />wasm \(n=0\): p50 -, p95 -, p99 -</);
  assert.match(
    svg,
    /class="legend-detail"[^>]*>llvmpipe \(LLVM 15\.0\.6, 256 bits\), software adapter</,
  );
});
