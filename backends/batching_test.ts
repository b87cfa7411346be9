import assert from "node:assert/strict";
import type { Backend, EncodeOptions } from "./backend.ts";
import { batchingBackend } from "./batching.ts";
import type { SaeWeights } from "../domain/sae/dictionary.ts";
import { SaeError } from "../domain/errors.ts";
import { matrix } from "../domain/sae/matrix.ts";
import { steerRows } from "../domain/sae/steer.ts";
import { wasmBackend } from "./wasm/mod.ts";
import { seededRandom } from "../domain/random.ts";

/** Seeded values uniform on [-0.5, 0.5). */
function rand(seed: number): () => number {
  const next = seededRandom(seed);
  return () => next() - 0.5;
}

function weights(): SaeWeights {
  const r = rand(3);
  const dIn = 64;
  const dSae = 512;
  return {
    dIn,
    dSae,
    wEnc: matrix([dIn, dSae], Float32Array.from({ length: dIn * dSae }, r)),
    wDec: matrix([dSae, dIn], Float32Array.from({ length: dIn * dSae }, r)),
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
      () => matrix([1, 64], Float32Array.from({ length: 64 }, r)),
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
    for (const x of rows) {
      soloSteer.push(await steerRows({ backend: wasm, prepared }, x, { interventions }));
    }
    const steerCalls = inner.calls.steer;
    const batchedSteer = await Promise.all(
      rows.map((x) => steerRows({ backend: batched, prepared }, x, { interventions })),
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
    const x = matrix([1, 64], new Float32Array(64).fill(0.1));
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

/** An inner backend that records each encode's options and finishes when told to. */
function recorder() {
  const calls: { rows: number; options: EncodeOptions | undefined; finish: () => void }[] = [];
  const inner: Backend = {
    name: "wasm",
    health: () => ({ healthy: false, detail: "replacing kernel workers" }),
    prepare: (w) => Promise.resolve({ weights: w, extraBytes: 0 }),
    release: () => {},
    encode(_p, s, options) {
      return new Promise((resolve, reject) => {
        const finish = () =>
          resolve({
            width: 4,
            indices: Array.from({ length: s.rows }, () => Int32Array.from([0])),
            values: Array.from({ length: s.rows }, (_, r) => Float32Array.from([s.data[r]])),
          });
        calls.push({ rows: s.rows, options, finish });
        options?.signal?.addEventListener("abort", () => reject(options.signal!.reason));
      });
    },
    decodeSparse: () => Promise.reject(new Error("unused")),
    decodeDense: () => Promise.reject(new Error("unused")),
    steer: () => Promise.reject(new Error("unused")),
    matmul: () => Promise.reject(new Error("unused")),
    topK: () => Promise.reject(new Error("unused")),
  };
  return { inner, calls };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

Deno.test("batching: priority and a signal reach the inner backend; live and research never share a batch", async () => {
  const { inner, calls } = recorder();
  const batched = batchingBackend(inner, { maxWaitMs: 1 });
  const prepared = await batched.prepare(weights());
  const one = (v: number) => matrix([1, 1], Float32Array.from([v]));
  const results = [
    batched.encode(prepared, one(1), { priority: "research", top: 3 }),
    batched.encode(prepared, one(2), { priority: "live", top: 3 }),
    batched.encode(prepared, one(3), { top: 3 }),
  ];
  await settle();
  assert.equal(calls.length, 2);
  const byClass = Object.fromEntries(calls.map((c) => [c.options?.priority, c]));
  assert.equal(byClass.research.rows, 1);
  assert.equal(byClass.live.rows, 2, "default priority is live: batched with the live call");
  for (const c of calls) {
    assert.equal(c.options?.top, 3);
    assert.ok(c.options?.signal instanceof AbortSignal);
    c.finish();
  }
  assert.deepEqual((await Promise.all(results)).map((r) => r.values[0][0]), [1, 2, 3]);
  assert.deepEqual(batched.health?.(), { healthy: false, detail: "replacing kernel workers" });
});

Deno.test("batching: an aborted caller is rejected at once; the kernel call aborts only when all its callers have", async () => {
  const { inner, calls } = recorder();
  const batched = batchingBackend(inner, { maxWaitMs: 5 });
  const prepared = await batched.prepare(weights());
  const one = (v: number) => matrix([1, 1], Float32Array.from([v]));
  // Aborted while queued: leaves the queue, the others run without it.
  const queued = new AbortController();
  const gone = batched.encode(prepared, one(1), { signal: queued.signal });
  const stays = batched.encode(prepared, one(2));
  queued.abort(new SaeError("unavailable", "client gone"));
  await assert.rejects(gone, /client gone/);
  await settle();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].rows, 1, "the aborted row was not sent");
  calls[0].finish();
  assert.equal((await stays).values[0][0], 2);
  // Aborted while running: rejected at once; the batch runs on for the caller still there.
  const a = new AbortController();
  const b = new AbortController();
  const first = batched.encode(prepared, one(3), { signal: a.signal });
  const second = batched.encode(prepared, one(4), { signal: b.signal });
  await settle();
  assert.equal(calls.length, 2);
  const batch = calls[1];
  assert.equal(batch.rows, 2);
  a.abort(new SaeError("unavailable", "deadline a"));
  await assert.rejects(first, /deadline a/);
  assert.equal(batch.options?.signal?.aborted, false);
  b.abort(new SaeError("unavailable", "deadline b"));
  await assert.rejects(second, /deadline b/);
  assert.equal(batch.options?.signal?.aborted, true, "every caller gone: the kernel call stops");
  // The lane still serves later calls.
  const later = batched.encode(prepared, one(5));
  await settle();
  calls[2].finish();
  assert.equal((await later).values[0][0], 5);
});

Deno.test("batching: by default an idle lane runs at once, without a timer; calls made while it runs go together next", async () => {
  const { inner, calls } = recorder();
  const batched = batchingBackend(inner);
  const prepared = await batched.prepare(weights());
  const one = (v: number) => matrix([1, 1], Float32Array.from([v]));
  const first = [batched.encode(prepared, one(1)), batched.encode(prepared, one(2))];
  // Two microtask turns, no timer: the calls of the same turn already run, together.
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].rows, 2, "calls made in the same turn share a batch");
  const later = [3, 4, 5].map((v) => batched.encode(prepared, one(v)));
  await settle();
  assert.equal(calls.length, 1, "nothing else runs while the lane's batch runs");
  calls[0].finish();
  assert.deepEqual((await Promise.all(first)).map((r) => r.values[0][0]), [1, 2]);
  await settle();
  assert.equal(calls.length, 2);
  assert.equal(calls[1].rows, 3, "the calls that waited go together");
  calls[1].finish();
  assert.deepEqual((await Promise.all(later)).map((r) => r.values[0][0]), [3, 4, 5]);
});
