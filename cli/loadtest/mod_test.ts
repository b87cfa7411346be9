/**
 * `deno task loadtest`: the pure pieces (percentile, histogram, loopback check, SVG), the CLI's
 * refusal of non-loopback URLs, and a short real run against the app served on 127.0.0.1.
 * @module
 */

import assert from "node:assert/strict";
import {
  formatTable,
  histogram,
  isLoopback,
  LATENCY_EDGES_MS,
  percentile,
  type PhaseReport,
  renderSvg,
  runLoadtest,
} from "./mod.ts";
import { testApp } from "../../tests/helpers.ts";

const LOADTEST = new URL("./mod.ts", import.meta.url).pathname;

Deno.test("percentile: nearest rank over a sorted array", () => {
  const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(xs, 50), 5);
  assert.equal(percentile(xs, 95), 10);
  assert.equal(percentile(xs, 10), 1);
  assert.equal(percentile(xs, 0), 1);
  assert.equal(percentile(xs, 100), 10);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.throws(() => percentile(xs, 101), RangeError);
});

Deno.test("histogram: half-open buckets, out-of-range values clamped to the ends", () => {
  assert.deepEqual(histogram([0.01, 1, 1.5, 2, 9.99, 10, 50], [1, 2, 5, 10]), [3, 1, 3]);
  assert.deepEqual(histogram([], [1, 2]), [0]);
  assert.equal(LATENCY_EDGES_MS[0], 0.1);
  assert.equal(LATENCY_EDGES_MS[LATENCY_EDGES_MS.length - 1], 10_000);
  const counts = histogram([0.2, 3, 3, 40, 9000], LATENCY_EDGES_MS);
  assert.equal(counts.length, LATENCY_EDGES_MS.length - 1);
  assert.equal(counts.reduce((a, b) => a + b, 0), 5);
});

Deno.test("isLoopback: accepts 127/8, ::1 and localhost; refuses everything else", () => {
  for (
    const ok of [
      "http://127.0.0.1:8080",
      "http://127.9.8.7/",
      "http://[::1]:8080",
      "http://localhost",
    ]
  ) {
    assert.ok(isLoopback(ok), ok);
  }
  for (
    const bad of [
      "http://10.0.0.1",
      "http://example.com",
      "http://128.0.0.1",
      "nonsense",
      "http://[::2]",
    ]
  ) {
    assert.ok(!isLoopback(bad), bad);
  }
});

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

Deno.test("the CLI refuses a non-loopback URL with exit code 2", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", LOADTEST, "--url", "http://example.com", "--dictionary", "x"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /loopback/);
});

Deno.test("runLoadtest: a 2 s run of encode+steer against the app on 127.0.0.1", async () => {
  const { app, registry } = testApp();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const dir = await Deno.makeTempDir({ prefix: "saeserve-loadtest-" });
  const lines: string[] = [];
  try {
    const report = await runLoadtest({
      url: `http://127.0.0.1:${server.addr.port}`,
      dictionary: "saelens_standard",
      concurrency: 8,
      duration: 2,
      backends: ["reference"],
      mix: ["encode", "steer"],
      out: dir,
      log: (l) => lines.push(l),
    });
    assert.equal(report.phases.length, 1);
    const [p] = report.phases;
    assert.ok(p.requests > 0);
    assert.deepEqual(p.errors, {});
    assert.equal(p.ok, p.requests);
    assert.ok((p.byKind.encode ?? 0) > 0 && (p.byKind.steer ?? 0) > 0);
    assert.deepEqual(Object.keys(p.reportedBackends), ["reference"]);
    assert.equal(p.backendMismatch, false);
    const { p50, p95, p99, max } = p.latencyMs;
    assert.ok(p50 !== null && p95 !== null && p99 !== null && max !== null);
    assert.ok(0 < p50 && p50 <= p95 && p95 <= p99 && p99 <= max);
    assert.ok(p.elapsedS <= 2 && p.reqPerS > 0 && p.rowsPerS > 0);
    assert.equal(p.histogram.reduce((a, b) => a + b, 0), p.ok);
    assert.match(lines.join("\n"), /backend reference[\s\S]*p50 ms[\s\S]*none/);

    const json = JSON.parse(await Deno.readTextFile(`${dir}/loadtest.json`));
    assert.equal(json.phases[0].requests, p.requests);
    assert.equal(json.histogramEdgesMs.length, LATENCY_EDGES_MS.length);
    const svg = await Deno.readTextFile(`${dir}/loadtest.svg`);
    assert.ok(svg.startsWith("<svg"));
    assert.equal(svg.match(/<rect class="bar"/g)?.length, LATENCY_EDGES_MS.length - 1);
    assert.match(svg, />reference \(n=\d+\)</);
    assert.ok(svg.trimEnd().endsWith("</svg>"));
  } finally {
    await server.shutdown();
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runLoadtest: a phase ends on time against a hanging service; slow requests time out", async () => {
  const release: (() => void)[] = [];
  const handler = (req: Request): Response | Promise<Response> => {
    if (req.method === "GET") return Response.json({ d_in: 4, d_sae: 8 });
    return req.arrayBuffer().then(() =>
      new Promise<Response>((resolve) => release.push(() => resolve(new Response("{}"))))
    );
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const common = {
    url,
    dictionary: "d",
    concurrency: 4,
    backends: ["wasm"],
    out: null,
    log: () => {},
  };
  try {
    const t0 = performance.now();
    const hung = await runLoadtest({ ...common, duration: 0.5 });
    assert.ok(performance.now() - t0 < 2_000, "the phase ended at its duration");
    assert.equal(hung.phases[0].requests, 0);
    assert.deepEqual(hung.phases[0].errors, {});
    assert.equal(hung.phases[0].latencyMs.p50, null);
    const slow = await runLoadtest({ ...common, duration: 0.5, requestTimeoutMs: 100 });
    assert.ok((slow.phases[0].errors.timeout ?? 0) >= 4);
    assert.equal(slow.phases[0].ok, 0);
  } finally {
    release.forEach((f) => f());
    await server.shutdown();
  }
});

Deno.test("formatTable: errors by status and a warning when another backend answered", () => {
  const phase: PhaseReport = {
    backend: "webgpu",
    reportedBackends: { wasm: 88 },
    backendMismatch: true,
    requests: 100,
    ok: 88,
    errors: { "429": 12 },
    byKind: { encode: 50, steer: 50 },
    elapsedS: 2,
    reqPerS: 50,
    rowsPerS: 44,
    latencyMs: { p50: 1, p95: 2, p99: 3, max: 4, mean: 1.2 },
    histogram: [],
  };
  const text = formatTable(phase, { concurrency: 8, rows: 1 }).join("\n");
  assert.match(text, /429: 12/);
  assert.match(text, /WARNING: asked for webgpu, the service reported wasm \(88\)/);
});
