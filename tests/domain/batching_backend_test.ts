import assert from "node:assert/strict";
import type { Backend } from "../../domain/backend.ts";
import { batchingBackend } from "../../domain/batching_backend.ts";
import type { SaeWeights } from "../../domain/dictionary.ts";
import { SaeError } from "../../domain/errors.ts";
import { matrix } from "../../domain/matrix.ts";
import { steerRows } from "../../domain/steer.ts";
import { wasmBackend } from "../../wasm/mod.ts";

function rand(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function weights(): SaeWeights {
  const r = rand(3);
  const dIn = 64;
  const dSae = 512;
  return {
    dIn,
    dSae,
    wEnc: matrix(dIn, dSae, Float32Array.from({ length: dIn * dSae }, r)),
    wDec: matrix(dSae, dIn, Float32Array.from({ length: dIn * dSae }, r)),
    bDec: new Float32Array(dIn),
    preBias: null,
    activation: { kind: "topk", bEnc: new Float32Array(dSae), k: 16 },
    normalization: "none",
    wSkip: null,
  };
}

/** Counts the inner backend's kernel calls (the real backend computes). */
function counting(inner: Backend): Backend & { calls: Record<string, number> } {
  const calls: Record<string, number> = { encode: 0, steer: 0, decodeSparse: 0 };
  return {
    ...inner,
    name: inner.name,
    calls,
    encode: (p, s, o) => (calls.encode++, inner.encode(p, s, o)),
    steer: (p, x, d, o) => (calls.steer++, inner.steer(p, x, d, o)),
    decodeSparse: (p, c, o) => (calls.decodeSparse++, inner.decodeSparse(p, c, o)),
  };
}

Deno.test("batching: concurrent one-row encodes and steers share kernel calls and equal unbatched results", async () => {
  const wasm = await wasmBackend({ threads: 2 });
  try {
    const inner = counting(wasm);
    const batched = batchingBackend(inner, { maxWaitMs: 2, maxRows: 64 });
    const prepared = await wasm.prepare(weights());
    const r = rand(9);
    const rows = Array.from(
      { length: 24 },
      () => matrix(1, 64, Float32Array.from({ length: 64 }, r)),
    );
    const alone = [];
    for (const x of rows) alone.push(await wasm.encode(prepared, x));
    const together = await Promise.all(rows.map((x) => batched.encode(prepared, x)));
    assert.deepEqual(together, alone);
    assert.ok(inner.calls.encode <= 2, `24 requests took ${inner.calls.encode} kernel calls`);

    const interventions = [{ feature: 5, mode: "add" as const, value: 2 }, {
      feature: 9,
      mode: "scale" as const,
      value: 0.5,
    }];
    const soloSteer = [];
    for (const x of rows) soloSteer.push(await steerRows(wasm, prepared, x, interventions));
    const steerCalls = inner.calls.steer;
    const batchedSteer = await Promise.all(
      rows.map((x) => steerRows(batched, prepared, x, interventions)),
    );
    assert.deepEqual(batchedSteer.map((m) => [...m.data]), soloSteer.map((m) => [...m.data]));
    assert.ok(inner.calls.steer - steerCalls <= 2);
    wasm.release(prepared);
  } finally {
    wasm.close();
  }
});

Deno.test("batching: a full queue rejects at once with over_capacity (429)", async () => {
  const wasm = await wasmBackend({ threads: 1 });
  try {
    const batched = batchingBackend(wasm, { maxWaitMs: 5, maxQueuedRows: 3 });
    const prepared = await wasm.prepare(weights());
    const x = matrix(1, 64, new Float32Array(64).fill(0.1));
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => batched.encode(prepared, x)),
    );
    const rejected = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 3);
    assert.equal(rejected.length, 5);
    assert.ok(
      rejected.every((r) => r.reason instanceof SaeError && r.reason.kind === "over_capacity"),
    );
    // Once drained, the lane accepts work again.
    assert.equal((await batched.encode(prepared, x)).indices.length, 1);
    wasm.release(prepared);
  } finally {
    wasm.close();
  }
});
