/**
 * The WASM backend's scheduling: the calling thread's event loop stays free during kernel
 * calls, live calls overtake research calls at the next checkpoint, aborted calls reject at
 * once and stop computing, the watchdog replaces a stuck pool without losing prepared
 * dictionaries, and results stay exact when calls are cut into blocks, stopped and resumed.
 * @module
 */

import assert from "node:assert/strict";
import type { Activation, SaeWeights } from "../../domain/sae/dictionary.ts";
import { SaeError } from "../../domain/errors.ts";
import { type Matrix, matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { referenceBackend } from "../reference/mod.ts";
import { wasmBackend } from "./mod.ts";
import { JOB_HANG } from "./pool_protocol.ts";
import { assertClose, random } from "../../tests/conformance.ts";

function weights(dIn: number, dSae: number, activation?: Activation): SaeWeights {
  return {
    dIn,
    dSae,
    wEnc: matrix([dIn, dSae], random(dIn * dSae, 1, { scale: 0.1 })),
    wDec: matrix([dSae, dIn], random(dSae * dIn, 2, { scale: 0.1 })),
    bDec: random(dIn, 3, { scale: 0.1 }),
    preBias: null,
    activation: activation ?? { kind: "topk", bEnc: random(dSae, 4, { scale: 0.05 }), k: 32 },
    normalization: "none",
    wSkip: null,
  };
}

const rows = (n: number, dIn: number, seed: number) => matrix([n, dIn], random(n * dIn, seed));
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const plain = (c: SparseRows) => ({
  indices: c.indices.map((ix) => [...ix]),
  values: c.values.map((v) => [...v]),
});

/** A research-sized call: 1024 rows x 256 -> 8192 (2.1 G multiply-adds). */
const BIG = { dIn: 256, dSae: 8192, rows: 1024 };

Deno.test("the event loop keeps ticking while a multi-hundred-ms encode runs", async () => {
  const wasm = await wasmBackend({ threads: 1 });
  try {
    const p = await wasm.prepare(weights(BIG.dIn, BIG.dSae));
    const x = rows(BIG.rows, BIG.dIn, 5);
    let ticks = 0;
    let last = performance.now();
    let worst = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
      ticks++;
    }, 2);
    const started = performance.now();
    await wasm.encode(p, x, { priority: "research" });
    const took = performance.now() - started;
    clearInterval(timer);
    wasm.release(p);
    // The old backend ran the kernels on this thread: no tick at all until the call returned.
    assert.ok(took > 100, `the encode took only ${took.toFixed(0)} ms`);
    assert.ok(ticks >= 10, `${ticks} ticks in ${took.toFixed(0)} ms`);
    assert.ok(worst < took / 2, `worst gap ${worst.toFixed(0)} ms of ${took.toFixed(0)} ms`);
  } finally {
    wasm.close();
  }
});

Deno.test("a live call submitted during a long research call finishes first", async () => {
  const wasm = await wasmBackend({ threads: 2, checkpointWork: 1 << 20 });
  try {
    const p = await wasm.prepare(weights(BIG.dIn, BIG.dSae));
    const x = rows(BIG.rows, BIG.dIn, 6);
    const one = rows(1, BIG.dIn, 7);
    const alone = await wasm.encode(p, one);
    const done: string[] = [];
    const research = wasm.encode(p, x, { priority: "research" }).then((r) => {
      done.push("research");
      return r;
    });
    await delay(30);
    assert.equal(wasm.pool.running, "research", "the research call is computing");
    const started = performance.now();
    const live = await wasm.encode(p, one, { priority: "live" });
    const liveMs = performance.now() - started;
    done.push("live");
    const all = await research;
    assert.deepEqual(done, ["live", "research"]);
    assert.deepEqual(plain(live), plain(alone), "same codes as when alone");
    // Stopped and resumed at checkpoints, the research call's codes are unchanged.
    assert.deepEqual(plain(all), plain(await wasm.encode(p, x)));
    assert.ok(liveMs < 1_000, `live call took ${liveMs.toFixed(0)} ms`);
    wasm.release(p);
  } finally {
    wasm.close();
  }
});

Deno.test("a live call stops a running research round at its next checkpoint", async () => {
  // One block of 128 rows: without the stop word the research round would run to its end
  // (0.5 G multiply-adds per worker) before the live call got a turn.
  const wasm = await wasmBackend({ threads: 2 });
  try {
    const p = await wasm.prepare(weights(1024, 8192));
    const x = rows(128, 1024, 19);
    const done: string[] = [];
    const research = wasm.encode(p, x, { priority: "research" }).then(() => done.push("research"));
    while (wasm.pool.running !== "research") await delay(1);
    await wasm.encode(p, rows(1, 1024, 20));
    done.push("live");
    await research;
    assert.deepEqual(done, ["live", "research"]);
    wasm.release(p);
  } finally {
    wasm.close();
  }
});

Deno.test("an aborted call rejects at once with the reason, stops computing, and the pool keeps working", async () => {
  const wasm = await wasmBackend({ threads: 2, checkpointWork: 1 << 20 });
  try {
    const p = await wasm.prepare(weights(BIG.dIn, BIG.dSae));
    const x = rows(BIG.rows, BIG.dIn, 8);
    const controller = new AbortController();
    const call = wasm.encode(p, x, { priority: "research", signal: controller.signal });
    await delay(30);
    assert.equal(wasm.pool.running, "research");
    const reason = new SaeError("unavailable", "deadline passed");
    const aborted = performance.now();
    controller.abort(reason);
    await assert.rejects(call, (e) => e === reason);
    assert.ok(performance.now() - aborted < 50, "rejected at once");
    // The round in flight stops at its next checkpoint; nothing of the call runs afterwards.
    await delay(50);
    assert.equal(wasm.pool.running, null, "no kernel is running");
    assert.deepEqual(wasm.pool.waiting, { live: 0, research: 0 });
    // Already aborted: rejected without computing.
    await assert.rejects(wasm.encode(p, x, { signal: controller.signal }), (e) => e === reason);
    const one = rows(3, BIG.dIn, 9);
    const ref = referenceBackend();
    const w = weights(BIG.dIn, BIG.dSae);
    assert.deepEqual(
      (await wasm.encode(p, one)).indices.map((ix) => [...ix]),
      (await ref.encode(await ref.prepare(w), one)).indices.map((ix) => [...ix]),
    );
    wasm.release(p);
  } finally {
    wasm.close();
  }
});

Deno.test("the watchdog replaces a stuck pool: the call fails unavailable, health recovers, prepared dictionaries survive", async () => {
  const replaced: string[] = [];
  const wasm = await wasmBackend({
    threads: 2,
    watchdogMs: 200,
    onReplaced: (why) => replaced.push(why),
  });
  try {
    const w = weights(64, 512, { kind: "relu", bEnc: random(512, 11, { scale: 0.1 }) });
    const p = await wasm.prepare(w);
    const x = rows(4, 64, 12);
    const before = await wasm.encode(p, x);
    assert.deepEqual(wasm.health(), { healthy: true });
    // A job that never finishes by itself (a stand-in for a kernel that hangs).
    await assert.rejects(
      wasm.pool.run([JOB_HANG]),
      (e: unknown) => e instanceof SaeError && e.kind === "unavailable",
    );
    assert.equal(wasm.health().healthy, false);
    assert.match(wasm.health().detail ?? "", /no progress/);
    // Calls queue until the new workers are up, then run on the same memory.
    assert.deepEqual(plain(await wasm.encode(p, x)), plain(before));
    assert.deepEqual(wasm.health(), { healthy: true });
    assert.equal(replaced.length, 1);
    const ref = referenceBackend();
    const y = await wasm.decodeSparse(p, before);
    assertClose(y.data, (await ref.decodeSparse(await ref.prepare(w), before)).data, {
      tol: 1e-5,
      what: "y",
    });
    wasm.release(p);
  } finally {
    wasm.close();
  }
});

Deno.test("calls cut into many blocks and checkpoints, interleaved, match the reference", async () => {
  // Tiny checkpoint work: every call is many row blocks, every kernel many checkpoints, and
  // compaction and the load-time transpose take many rounds.
  const ref = referenceBackend();
  for (const weightsPrecision of ["f32", "bf16"] as const) {
    const wasm = await wasmBackend({ threads: 3, checkpointWork: 1024, weights: weightsPrecision });
    const exact = await wasmBackend({ threads: 2, weights: weightsPrecision });
    try {
      const w = weights(40, 300, {
        kind: "jumprelu",
        bEnc: random(300, 5, { scale: 0.2 }),
        threshold: random(300, 6, { scale: 0.1 }).map(Math.abs),
      });
      const [p, q, r] = [await wasm.prepare(w), await exact.prepare(w), await ref.prepare(w)];
      const x = rows(37, 40, 13);
      const dense = rows(9, 300, 14);
      const b = rows(23, 40, 15);
      const calls = await Promise.all([
        wasm.encode(p, x, { priority: "research" }),
        wasm.encode(p, x, { top: 5 }),
        wasm.decodeDense(p, dense, { priority: "research" }),
        wasm.matmul(x, b, { transposeB: true, priority: "research" }),
        wasm.steer(p, x, await exact.encode(q, x), { rowScale: random(37, 16).map(Math.abs) }),
      ]);
      const want = await Promise.all([
        exact.encode(q, x),
        exact.encode(q, x, { top: 5 }),
        exact.decodeDense(q, dense),
        exact.matmul(x, b, { transposeB: true }),
        exact.steer(q, x, await exact.encode(q, x), { rowScale: random(37, 16).map(Math.abs) }),
      ]);
      assert.deepEqual(plain(calls[0] as SparseRows), plain(want[0] as SparseRows));
      assert.deepEqual(plain(calls[1] as SparseRows), plain(want[1] as SparseRows));
      for (const i of [2, 3, 4]) {
        assertClose((calls[i] as Matrix).data, (want[i] as Matrix).data, {
          tol: 1e-6,
          what: `call ${i}`,
        });
      }
      if (weightsPrecision === "f32") {
        const codes = await ref.encode(r, x);
        assert.deepEqual(
          (calls[0] as SparseRows).indices.map((ix) => [...ix]),
          codes.indices.map((ix) => [...ix]),
        );
        const mm = await ref.matmul(x, b, { transposeB: true });
        assertClose((calls[3] as Matrix).data, mm.data, { tol: 1e-5, what: "matmul vs reference" });
      }
      wasm.release(p);
      exact.release(q);
    } finally {
      wasm.close();
      exact.close();
    }
  }
});

Deno.test("memory grown while kernels run, and a release during a call, are safe", async () => {
  const wasm = await wasmBackend({ threads: 2, checkpointWork: 1 << 18 });
  try {
    const small = weights(BIG.dIn, BIG.dSae);
    const p = await wasm.prepare(small);
    const x = rows(256, BIG.dIn, 17);
    const want = await wasm.encode(p, x);
    const running = wasm.encode(p, x, { priority: "research" });
    // Meanwhile: a dictionary of 2 x 64 MB grows the memory under the workers' feet.
    const big = await wasm.prepare(weights(1024, 16384));
    const y = await wasm.encode(big, rows(2, 1024, 18));
    assert.equal(y.indices.length, 2);
    wasm.release(p); // in use: freed once the call ends
    assert.deepEqual(plain(await running), plain(want));
    await assert.rejects(
      wasm.encode(p, x),
      (e: unknown) => e instanceof SaeError && e.kind === "unavailable",
    );
    wasm.release(big);
  } finally {
    wasm.close();
  }
});

Deno.test("a closed wasm backend refuses calls with unavailable", async () => {
  const wasm = await wasmBackend({ threads: 1 });
  const p = await wasm.prepare(weights(16, 64));
  wasm.close();
  await assert.rejects(
    wasm.encode(p, rows(1, 16, 1)),
    (e: unknown) => e instanceof SaeError && e.kind === "unavailable",
  );
  assert.equal(wasm.health().healthy, false);
});
