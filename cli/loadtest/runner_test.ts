/**
 * The load test's runner against real servers on 127.0.0.1: the app itself (with its progress
 * lines), and a hanging service whose phases must still end on time and whose /readyz names the
 * adapter.
 * @module
 */

import assert from "node:assert/strict";
import { runLoadtest } from "./runner.ts";
import { LATENCY_EDGES_MS } from "./stats.ts";
import { testApp } from "../../tests/helpers.ts";

Deno.test("runLoadtest: a 2 s run of encode+steer against the app on 127.0.0.1", async () => {
  const { app, registry } = testApp();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const dir = await Deno.makeTempDir({ prefix: "saeserve-loadtest-" });
  const lines: string[] = [];
  const progress: [string, boolean][] = [];
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
      progress: (l, done) => progress.push([l, done]),
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
    assert.match(
      lines.join("\n"),
      /backend reference[\s\S]*adapter: CPU \(plain TypeScript, one thread\)\n[\s\S]*p50 ms/,
    );
    assert.deepEqual(p.adapter, {
      name: "CPU (plain TypeScript, one thread)",
      software: false,
      source: "service",
    });
    // A line a second while the phase runs, then one marked done.
    assert.ok(progress.length >= 2, JSON.stringify(progress));
    assert.deepEqual(progress.map(([, done]) => done), [
      ...progress.slice(1).map(() => false),
      true,
    ]);
    assert.match(
      progress[0][0],
      /^reference \d\/2 s: \d+ requests, [\d.]+ req\/s, p50 [\d.]+ ms, p99 [\d.]+ ms, 0 errors$/,
    );

    const json = JSON.parse(await Deno.readTextFile(`${dir}/loadtest.json`));
    assert.equal(json.phases[0].requests, p.requests);
    assert.equal(json.histogramEdgesMs.length, LATENCY_EDGES_MS.length);
    const svg = await Deno.readTextFile(`${dir}/loadtest.svg`);
    assert.ok(svg.startsWith("<svg"));
    assert.equal(svg.match(/<rect class="bar"/g)?.length, LATENCY_EDGES_MS.length - 1);
    assert.match(svg, />reference \(n=\d+\): p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms</);
    assert.equal(svg.match(/<line class="marker"/g)?.length, 3);
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
    if (new URL(req.url).pathname === "/readyz") {
      return Response.json({
        status: "ready",
        backend: "wasm",
        backends: { webgpu: { adapter: "llvmpipe (LLVM 15.0.6)", software_adapter: true } },
      });
    }
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
    backends: ["webgpu"],
    out: null,
    log: () => {},
    progress: null,
  };
  try {
    const t0 = performance.now();
    const hung = await runLoadtest({ ...common, duration: 0.5 });
    assert.ok(performance.now() - t0 < 2_000, "the phase ended at its duration");
    assert.equal(hung.phases[0].requests, 0);
    assert.deepEqual(hung.phases[0].errors, {});
    assert.equal(hung.phases[0].latencyMs.p50, null);
    assert.deepEqual(hung.phases[0].adapter, {
      name: "llvmpipe (LLVM 15.0.6)",
      software: true,
      source: "service",
    });
    const slow = await runLoadtest({ ...common, duration: 0.5, requestTimeoutMs: 100 });
    assert.ok((slow.phases[0].errors.timeout ?? 0) >= 4);
    assert.equal(slow.phases[0].ok, 0);
  } finally {
    release.forEach((f) => f());
    await server.shutdown();
  }
});

Deno.test("runLoadtest: a service refusing the backend stops the run with its explanation", async () => {
  const handler = (req: Request): Response | Promise<Response> => {
    if (new URL(req.url).pathname === "/readyz") return Response.json({ status: "ready" });
    if (req.method === "GET") return Response.json({ d_in: 4, d_sae: 8 });
    return req.arrayBuffer().then(() =>
      Response.json(
        { status: 403, detail: "backend override is off (SAESERVE_ALLOW_BACKEND_OVERRIDE)" },
        { status: 403 },
      )
    );
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  try {
    const started = performance.now();
    await assert.rejects(
      runLoadtest({
        url: `http://127.0.0.1:${server.addr.port}`,
        dictionary: "d",
        backends: ["webgpu"],
        duration: 30,
        out: null,
        log: () => {},
        progress: null,
      }),
      /the service refused backend webgpu: HTTP 403: backend override is off/,
    );
    assert.ok(performance.now() - started < 5_000, "before any phase ran");
  } finally {
    await server.shutdown();
  }
});

Deno.test("runLoadtest: a service answering on another backend stops the run before its phase", async () => {
  const handler = (req: Request): Response | Promise<Response> => {
    if (new URL(req.url).pathname === "/readyz") return Response.json({ status: "ready" });
    if (req.method === "GET") return Response.json({ d_in: 4, d_sae: 8 });
    // Overrides off: the header is ignored and the service's own backend answers.
    return req.arrayBuffer().then(() =>
      Response.json({ indices: [[0]], values: [[1]] }, {
        headers: { "x-saeserve-backend": "wasm" },
      })
    );
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  try {
    const started = performance.now();
    await assert.rejects(
      runLoadtest({
        url: `http://127.0.0.1:${server.addr.port}`,
        dictionary: "d",
        backends: ["webgpu", "wasm"],
        duration: 30,
        out: null,
        log: () => {},
        progress: null,
      }),
      /asked for backend webgpu, the service answered on wasm: .*SAESERVE_ALLOW_BACKEND_OVERRIDE=1 \(or pass --backends wasm\)/,
    );
    assert.ok(performance.now() - started < 5_000, "before any phase ran");
  } finally {
    await server.shutdown();
  }
});
