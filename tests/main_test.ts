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
