import assert from "node:assert/strict";
import { selectBackend } from "../backends/select.ts";
import { readConfig } from "../service/config.ts";
import { MetricsRegistry } from "../service/prometheus.ts";
import { startService } from "../bench/service.ts";

const hasAdapter = !!(await navigator.gpu?.requestAdapter().catch(() => null));

Deno.test("selectBackend: wasm and reference are used directly; no chooser without the override", async () => {
  for (const choice of ["wasm", "reference"]) {
    const { backend, chooseBackend } = await selectBackend(
      readConfig({ SAESERVE_BACKEND: choice }),
      {
        metrics: new MetricsRegistry(),
      },
    );
    assert.equal(backend.name, choice);
    assert.equal(chooseBackend, undefined);
    backend.close?.();
  }
});

Deno.test({
  name:
    "selectBackend: webgpu fails over to wasm (a counted metric); the override offers every backend",
  ignore: !hasAdapter,
  async fn() {
    const metrics = new MetricsRegistry();
    const gpu = await selectBackend(readConfig({ SAESERVE_BACKEND: "webgpu" }), { metrics });
    assert.equal(gpu.backend.name, "webgpu");
    assert.match(metrics.render(), /saeserve_backend_failovers_total/);
    gpu.backend.close?.();

    const any = await selectBackend(
      readConfig({ SAESERVE_BACKEND: "wasm", SAESERVE_ALLOW_BACKEND_OVERRIDE: "1" }),
      { metrics: new MetricsRegistry() },
    );
    assert.equal(any.backend.name, "wasm");
    for (const name of ["wasm", "reference", "webgpu"]) {
      assert.equal(any.chooseBackend!(name).name, name);
    }
    any.backend.close?.();
  },
});

Deno.test("main.ts: a bad environment value is one error line naming the valid values (exit 1)", async () => {
  const cases: [Record<string, string>, string][] = [
    [
      { SAESERVE_BACKEND: "wsam" },
      "error: SAESERVE_BACKEND must be auto, webgpu, wasm or reference, not wsam\n",
    ],
    [{ PORT: "abc" }, "error: PORT abc is not a port\n"],
  ];
  for (const [env, expected] of cases) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname],
      env: { NO_COLOR: "1", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assert.equal(stderr, expected);
    assert.ok(!stderr.includes("Uncaught") && !stderr.includes("    at "));
  }
});

Deno.test("SIGTERM: readiness off, the in-flight request finishes, then the process exits 0", async () => {
  const svc = await startService({
    SAESERVE_BACKEND: "wasm",
    SAESERVE_STORE: `file://${new URL("../dictionaries", import.meta.url).pathname}`,
    SAESERVE_LOG: "off",
  });
  // A probe fit that keeps a research worker busy for a moment; SIGTERM once it runs.
  const rows = Array.from(
    { length: 500 },
    (_, r) => Array.from({ length: 64 }, (_, c) => Math.sin(r * c + r)),
  );
  const pending = fetch(`${svc.url}/v1/probes/train`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ activations: rows, labels: rows.map((_, i) => i % 2) }),
  });
  const t = performance.now();
  while (performance.now() - t < 10_000) {
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    if (/^saeserve_jobs_research_running 1/m.test(metrics)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const stopped = svc.stop();
  const res = await pending;
  assert.equal(res.status, 200, await res.clone().text());
  assert.ok((await res.json()).methods.length >= 1);
  assert.equal((await stopped).code, 0);
});
