/**
 * The adapters the load test names: from /readyz's `backends` map or its top-level `adapter`,
 * CPU backends by name, and "not reported" otherwise.
 * @module
 */

import assert from "node:assert/strict";
import { adapterFor, adapterLabel } from "./adapters.ts";

Deno.test("adapterFor: the backends map of /readyz", () => {
  const ready = {
    status: "ready",
    backend: "wasm",
    backends: {
      webgpu: { adapter: "llvmpipe (LLVM 15.0.6, 256 bits)", software_adapter: true },
      wasm: { adapter: "CPU, WASM SIMD, 2 threads", software_adapter: false },
    },
  };
  const gpu = adapterFor("webgpu", ready);
  assert.deepEqual(gpu, {
    name: "llvmpipe (LLVM 15.0.6, 256 bits)",
    software: true,
    source: "service",
  });
  assert.equal(adapterLabel(gpu), "llvmpipe (LLVM 15.0.6, 256 bits), software adapter");
  assert.equal(
    adapterLabel(adapterFor("wasm", ready)),
    "CPU, WASM SIMD, 2 threads",
  );
});

Deno.test("adapterFor: a top-level adapter describes the service's own backend only", () => {
  const ready = { backend: "webgpu", adapter: { name: "NVIDIA H100", is_fallback_adapter: false } };
  assert.equal(adapterLabel(adapterFor("webgpu", ready)), "NVIDIA H100, hardware adapter");
  assert.equal(adapterFor("wasm", ready).source, "cpu");
  const plain = adapterFor("webgpu", { backend: "webgpu", adapter: "SwiftShader" });
  assert.equal(adapterLabel(plain), "SwiftShader");
});

Deno.test("adapterFor: nothing reported", () => {
  assert.deepEqual(adapterFor("webgpu", { status: "ready", backend: "webgpu" }), {
    name: "adapter not reported by the service",
    software: null,
    source: "unknown",
  });
  assert.equal(adapterFor("reference", null).name, "CPU (TypeScript)");
  assert.equal(adapterFor("wasm", "garbage").name, "CPU (WASM)");
});
