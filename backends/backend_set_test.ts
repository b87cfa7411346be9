import assert from "node:assert/strict";
import type { Backend, EncodeOptions } from "./backend.ts";
import { backendSet } from "./backend_set.ts";
import type { SaeWeights } from "../domain/sae/dictionary.ts";
import { SaeError } from "../domain/errors.ts";
import { matrix } from "../domain/sae/matrix.ts";
import { referenceBackend } from "./reference/mod.ts";
import { webgpuBackend } from "./gpu/mod.ts";
import { wasmBackend } from "./wasm/mod.ts";

const hasAdapter = !!(await navigator.gpu?.requestAdapter().catch(() => null));

function weights(): SaeWeights {
  const dIn = 24;
  const dSae = 96;
  const wave = (n: number, f: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * f) * 0.3);
  return {
    dIn,
    dSae,
    wEnc: matrix([dIn, dSae], wave(dIn * dSae, 0.37)),
    wDec: matrix([dSae, dIn], wave(dSae * dIn, 0.11)),
    bDec: wave(dIn, 0.5),
    preBias: null,
    activation: { kind: "topk", bEnc: wave(dSae, 0.05), k: 6 },
    normalization: "none",
    wSkip: null,
  };
}

Deno.test({
  name:
    "backendSet: a lost GPU device fails over to wasm (same answers), is counted, and the GPU comes back",
  ignore: !hasAdapter,
  async fn() {
    const gpu = await webgpuBackend();
    const wasm = await wasmBackend({ threads: 1 });
    const restarted: { close(): void }[] = [];
    const events: string[] = [];
    let recovered!: () => void;
    const back = new Promise<void>((resolve) => (recovered = resolve));
    // The restart waits until the test has seen the set degraded (the wasm fallback computes
    // asynchronously, long enough for a software adapter to come back in between).
    let mayRestart!: () => void;
    const restartGate = new Promise<void>((resolve) => (mayRestart = resolve));
    // Counts the set's own closes of the failed primary (the test destroys the device itself).
    let primaryClosed = 0;
    const primary = { ...gpu, close: () => (primaryClosed++, gpu.close()) };
    const set = backendSet(primary, {
      fallback: wasm,
      restart: async () => {
        await restartGate;
        const fresh = await webgpuBackend();
        restarted.push(fresh);
        return fresh;
      },
      onFailover: (reason) => events.push(`failover: ${reason}`),
      onRecovered: () => {
        events.push("recovered");
        recovered();
      },
    });
    const ref = referenceBackend();
    const w = weights();
    const x = matrix([3, 24], Float32Array.from({ length: 72 }, (_, i) => Math.cos(i)));
    const want = await ref.encode(await ref.prepare(w), x);
    const prepared = await set.prepare(w);
    try {
      assert.equal(set.name, "webgpu");
      assert.deepEqual((await set.encode(prepared, x)).indices, want.indices);
      gpu.close(); // destroys the device: what a driver reset looks like to WebGPU
      await gpu.lost;
      const during = await set.encode(prepared, x);
      assert.deepEqual(during.indices, want.indices);
      assert.equal(set.name, "wasm");
      assert.ok(set.degraded);
      assert.equal(
        events.length >= 1 && events[0].startsWith("failover: GPU device lost"),
        true,
        events.join(),
      );
      mayRestart();
      await back;
      assert.equal(set.name, "webgpu");
      assert.deepEqual((await set.encode(prepared, x)).indices, want.indices);
      assert.deepEqual(events.filter((e) => e.startsWith("failover")).length, 1);
      assert.equal(primaryClosed, 1, "the failed primary is closed once replaced");
    } finally {
      set.release(prepared);
      wasm.close();
      for (const b of restarted) b.close();
    }
  },
});

Deno.test("backendSet: use() picks a member by name and refuses unknown names", async () => {
  const wasm = await wasmBackend({ threads: 1 });
  const set = backendSet(referenceBackend(), { others: [wasm] });
  const w = weights();
  const prepared = await set.prepare(w);
  try {
    assert.deepEqual([...set.names].sort(), ["reference", "wasm"]);
    const x = matrix([2, 24], Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)));
    const a = await set.use("wasm").encode(prepared, x);
    const b = await set.use("reference").encode(prepared, x);
    assert.deepEqual(a.indices, b.indices);
    assert.equal(set.use("wasm").name, "wasm");
    assert.throws(
      () => set.use("cuda"),
      (e: unknown) => e instanceof SaeError && e.kind === "invalid",
    );
  } finally {
    set.release(prepared);
    wasm.close();
  }
});

/** A member whose health can be set and whose encode rejects with its signal's reason. */
function member(name: "wasm" | "reference", health: { healthy: boolean; detail?: string }) {
  const seen: (EncodeOptions | undefined)[] = [];
  const ref = referenceBackend();
  const b: Backend = {
    ...ref,
    name,
    health: () => health,
    encode(p, s, options) {
      seen.push(options);
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
      return ref.encode(p, s, options);
    },
  };
  return { backend: b, health, seen };
}

Deno.test("backendSet: health is the active member's, or the fallback's while it can take over", () => {
  const primary = member("wasm", { healthy: true });
  const fallback = member("reference", { healthy: true });
  const set = backendSet(primary.backend, { fallback: fallback.backend });
  assert.deepEqual(set.health?.(), { healthy: true });
  primary.health.healthy = false;
  primary.health.detail = "replacing kernel workers";
  assert.deepEqual(set.health?.(), { healthy: true }, "the fallback can compute");
  fallback.health.healthy = false;
  fallback.health.detail = "closed";
  assert.deepEqual(set.health?.(), {
    healthy: false,
    detail: "wasm: replacing kernel workers",
  });
  assert.deepEqual(set.use("wasm").health?.(), primary.health);
  const alone = backendSet(primary.backend);
  assert.equal(alone.health?.().healthy, false);
});

Deno.test("backendSet: call options reach the member, and an aborted call does not fail over", async () => {
  const primary = member("wasm", { healthy: true });
  const fallback = member("reference", { healthy: true });
  const failovers: string[] = [];
  const set = backendSet(primary.backend, {
    fallback: fallback.backend,
    onFailover: (why) => failovers.push(why),
  });
  const prepared = await set.prepare(weights());
  const x = matrix([1, 24], Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)));
  const controller = new AbortController();
  await set.encode(prepared, x, { priority: "research", signal: controller.signal, top: 2 });
  assert.equal(primary.seen[0]?.priority, "research");
  assert.equal(primary.seen[0]?.signal, controller.signal);
  assert.equal(primary.seen[0]?.top, 2);
  // The caller's deadline: SaeError "unavailable" from the caller, not from the backend.
  controller.abort(new SaeError("unavailable", "deadline passed"));
  await assert.rejects(set.encode(prepared, x, { signal: controller.signal }), /deadline passed/);
  assert.equal(set.degraded, false);
  assert.deepEqual(failovers, []);
  assert.equal(fallback.seen.length, 0);
  set.release(prepared);
});

Deno.test("backendSet: a call failing while the set closes says so, and nothing fails over or restarts", async () => {
  let closed = false;
  const closedError = () => new SaeError("unavailable", "the GPU backend is closed");
  const primary = member("wasm", { healthy: true });
  const slow: Backend = {
    ...primary.backend,
    async encode(p, s, options) {
      await new Promise((r) => setTimeout(r, 50));
      if (closed) throw closedError();
      return primary.backend.encode(p, s, options);
    },
    close() {
      closed = true;
    },
  };
  const fallback = member("reference", { healthy: true });
  const failovers: string[] = [];
  let restarts = 0;
  const set = backendSet(slow, {
    fallback: fallback.backend,
    onFailover: (why) => failovers.push(why),
    restart: () => (restarts++, Promise.resolve(slow)),
  });
  const prepared = await set.prepare(weights());
  const x = matrix([1, 24], Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)));
  const call = set.encode(prepared, x);
  await set.close!();
  await assert.rejects(call, /the service is shutting down/);
  await assert.rejects(set.encode(prepared, x), /the service is shutting down/);
  assert.deepEqual([failovers, restarts, fallback.seen.length], [[], 0, 0]);
});
