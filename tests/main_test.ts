import assert from "node:assert/strict";
import { selectBackend } from "../main.ts";
import { readConfig } from "../domain/config.ts";
import { MetricsRegistry } from "../domain/prometheus.ts";

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

Deno.test("SIGTERM: readiness off, the in-flight request finishes, then the process exits 0", async () => {
  const port = 21000 + Math.floor(Math.random() * 20000);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname],
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      SAESERVE_BACKEND: "reference",
      SAESERVE_LOG: "off",
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("saeserve on")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  // A request that keeps the reference backend busy for a while: 20000 rows.
  const rows = Array.from(
    { length: 20000 },
    (_, r) => Array.from({ length: 64 }, (_, c) => Math.sin(r + c)),
  );
  const pending = fetch(`http://127.0.0.1:${port}/v1/dictionaries/demo-topk/encode`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ activations: rows, top: 1 }),
  });
  await new Promise((r) => setTimeout(r, 300));
  child.kill("SIGTERM");
  const res = await pending;
  assert.equal(res.status, 200);
  assert.equal((await res.json()).indices.length, 20000);
  const status = await child.status;
  assert.equal(status.code, 0);
  await reader.cancel();
  await child.stderr.cancel();
});
