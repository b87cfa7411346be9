/**
 * The WebGPU backend on its own thread: the shared conformance suite and the reference's
 * numbers through the proxy, errors as the in-thread backend throws them, aborts, close, and
 * a request thread that keeps running while the GPU works.
 * @module
 */

import assert from "node:assert/strict";
import { SaeError } from "../../domain/errors.ts";
import { matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { referenceBackend } from "../reference/mod.ts";
import { webgpuThread } from "./thread.ts";
import { assertClose, conformanceTests, random, randomWeights } from "../../tests/conformance.ts";

const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
const ignore = !adapter;
const gpu = ignore ? null : await webgpuThread({ maxBindingBytes: 64 << 10 });
const reference = referenceBackend();

if (gpu) conformanceTests("webgpu thread", () => gpu, { tol: 1e-4 });

Deno.test({
  name: "webgpu thread: encode, decode, steer, matmul and topK match the reference",
  ignore,
  async fn() {
    const w = randomWeights(37, 1000, {
      activation: { kind: "topk", bEnc: random(1000, 5, { scale: 0.1 }), k: 20 },
      seed: 21,
    });
    const p = await gpu!.prepare(w);
    const pr = await reference.prepare(w);
    try {
      assert.equal(p.weights, w, "the proxy's prepared dictionary keeps the caller's weights");
      const s = matrix([4, 37], random(4 * 37, 22));
      const got = await gpu!.encode(p, s, { top: 7 });
      const want = await reference.encode(pr, s, { top: 7 });
      for (let r = 0; r < 4; r++) {
        assert.deepEqual([...got.indices[r]], [...want.indices[r]], `row ${r} indices`);
        assertClose(got.values[r], want.values[r], { tol: 1e-4, what: `row ${r} values` });
      }
      const codes: SparseRows = {
        width: 1000,
        indices: [Int32Array.from([5, 999, 0]), Int32Array.from([42])],
        values: [Float32Array.from([1.5, -0.25, 3]), Float32Array.from([0.125])],
      };
      for (const bias of [true, false]) {
        assertClose(
          (await gpu!.decodeSparse(p, codes, { bias })).data,
          (await reference.decodeSparse(pr, codes, { bias })).data,
          { tol: 1e-5, what: `decodeSparse bias ${bias}` },
        );
      }
      const dense = matrix([2, 1000], random(2000, 23));
      assertClose(
        (await gpu!.decodeDense(p, dense)).data,
        (await reference.decodeDense(pr, dense)).data,
        { tol: 1e-4, what: "decodeDense" },
      );
      const x = matrix([2, 37], random(74, 24));
      const rowScale = Float32Array.from([2, 0.5]);
      assertClose(
        (await gpu!.steer(p, x, codes, { rowScale })).data,
        (await reference.steer(pr, x, codes, { rowScale })).data,
        { tol: 1e-5, what: "steer" },
      );
      const a = matrix([3, 37], random(111, 25));
      const bt = matrix([50, 37], random(50 * 37, 26));
      assertClose(
        (await gpu!.matmul(a, bt, { transposeB: true })).data,
        (await reference.matmul(a, bt, { transposeB: true })).data,
        { tol: 1e-5, what: "matmul" },
      );
      const m = matrix([2, 30], random(60, 27));
      assert.deepEqual(await gpu!.topK(m, 4), await reference.topK(m, 4));
      // Arguments travel as moved copies: the caller's arrays stay whole and unchanged.
      assert.deepEqual([...s.data], [...random(4 * 37, 22)], "encode's rows");
      assert.deepEqual([...x.data], [...random(74, 24)], "steer's rows");
      assert.deepEqual([...codes.indices[0]], [5, 999, 0], "the codes' indices");
      assert.deepEqual([...codes.values[1]], [0.125], "the codes' values");
      assert.equal(dense.data.length + a.data.length + bt.data.length + m.data.length, 4021);
    } finally {
      gpu!.release(p);
    }
  },
});

Deno.test({
  name: "webgpu thread: errors arrive as the backend threw them; a released dictionary is gone",
  ignore,
  async fn() {
    const w = randomWeights(8, 40, { activation: { kind: "relu", bEnc: random(40, 1) }, seed: 3 });
    const p = await gpu!.prepare(w);
    const bad = { width: 40, indices: [Int32Array.from([40])], values: [Float32Array.from([1])] };
    await assert.rejects(gpu!.decodeSparse(p, bad), RangeError);
    await assert.rejects(gpu!.matmul(matrix([2, 3]), matrix([4, 5])), RangeError);
    gpu!.release(p);
    await assert.rejects(
      gpu!.encode(p, matrix([1, 8], random(8, 2))),
      (e: unknown) => e instanceof SaeError && e.kind === "unavailable",
    );
    assert.deepEqual(gpu!.health!(), { healthy: true });
  },
});

Deno.test({
  name: "webgpu thread: an aborted call is answered at once with the signal's reason",
  ignore,
  async fn() {
    const w = randomWeights(64, 4096, {
      activation: { kind: "relu", bEnc: random(4096, 2) },
      seed: 4,
    });
    const p = await gpu!.prepare(w);
    try {
      const before = new AbortController();
      before.abort(new Error("gone already"));
      await assert.rejects(
        gpu!.encode(p, matrix([1, 64]), { signal: before.signal }),
        /gone already/,
      );
      const during = new AbortController();
      const call = gpu!.encode(p, matrix([256, 64], random(256 * 64, 5)), {
        signal: during.signal,
      });
      during.abort(new Error("client left"));
      await assert.rejects(call, /client left/);
      // The worker's late answer is dropped; the next call gets its own.
      const s = matrix([1, 64], random(64, 6));
      const got = await gpu!.encode(p, s, { top: 5 });
      const want = await reference.encode(await reference.prepare(w), s, { top: 5 });
      assert.deepEqual([...got.indices[0]], [...want.indices[0]]);
    } finally {
      gpu!.release(p);
    }
  },
});

Deno.test({
  name: "webgpu thread: the calling thread keeps running while the GPU works",
  // A software adapter takes long enough for the pause to show; a real GPU answers in ms.
  ignore: ignore || !adapter!.info.isFallbackAdapter,
  async fn() {
    // On llvmpipe this encode takes hundreds of ms of CPU; on the calling thread it would stop
    // every timer for that long (Deno's WebGPU waits for the device inside its calls).
    const w = randomWeights(128, 8192, {
      activation: { kind: "relu", bEnc: random(8192, 7) },
      seed: 8,
    });
    const p = await gpu!.prepare(w);
    try {
      const s = matrix([16, 128], random(16 * 128, 9));
      await gpu!.encode(p, matrix([1, 128]), { top: 1 }); // warm: pipelines, staging
      let last = performance.now();
      let longest = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        longest = Math.max(longest, now - last);
        last = now;
      }, 2);
      const start = performance.now();
      await gpu!.encode(p, s, { top: 16 });
      const took = performance.now() - start;
      clearInterval(timer);
      longest = Math.max(longest, performance.now() - last);
      assert.ok(took > 100, `the encode should take a while here (${took.toFixed(0)} ms)`);
      assert.ok(
        longest < took / 2,
        `longest pause of the calling thread ${longest.toFixed(0)} ms of ${took.toFixed(0)} ms`,
      );
    } finally {
      gpu!.release(p);
    }
  },
});

Deno.test({
  name: "webgpu thread: calls aborted while queued behind another are dropped, not run",
  ignore,
  async fn() {
    const w = randomWeights(128, 8192, {
      activation: { kind: "relu", bEnc: random(8192, 11) },
      seed: 12,
    });
    const p = await gpu!.prepare(w);
    try {
      const s = matrix([8, 128], random(8 * 128, 13));
      await gpu!.encode(p, s, { top: 4 }); // warm
      let t = performance.now();
      await gpu!.encode(p, s, { top: 4 });
      const one = performance.now() - t;
      // One call runs; eight queue behind it and are aborted at once; a last one follows.
      t = performance.now();
      const first = gpu!.encode(p, s, { top: 4 });
      const aborted = Array.from({ length: 8 }, () => {
        const controller = new AbortController();
        const call = gpu!.encode(p, s, { top: 4, signal: controller.signal });
        controller.abort(new Error("gone"));
        return call.catch((e) => (e as Error).message);
      });
      const last = await gpu!.encode(p, s, { top: 4 });
      await first;
      const took = performance.now() - t;
      assert.deepEqual(await Promise.all(aborted), Array(8).fill("gone"));
      assert.equal(last.indices.length, 8);
      // Run, the eight would have made this about ten calls long.
      assert.ok(took < 6 * one, `${took.toFixed(0)} ms for what takes ${one.toFixed(0)} ms twice`);
    } finally {
      gpu!.release(p);
    }
  },
});

Deno.test({
  name: "webgpu thread: rows travel in buffers the worker gives back; answers stay right",
  ignore,
  async fn() {
    const w = randomWeights(32, 300, {
      activation: { kind: "relu", bEnc: random(300, 17) },
      seed: 18,
    });
    const [p, pr] = [await gpu!.prepare(w), await reference.prepare(w)];
    try {
      const before = gpu!.spareCounts();
      for (const seed of [19, 20, 21]) {
        const s = matrix([5, 32], random(5 * 32, seed));
        const got = await gpu!.encode(p, s, { top: 6 });
        const want = await reference.encode(pr, s, { top: 6 });
        for (let r = 0; r < 5; r++) {
          assert.deepEqual([...got.indices[r]], [...want.indices[r]], `seed ${seed} row ${r}`);
        }
      }
      const after = gpu!.spareCounts();
      const [made, reused] = [after.made - before.made, after.reused - before.reused];
      assert.equal(made + reused, 3, "one buffer a call");
      assert.ok(reused >= 2, `${reused} of 3 reused`);
    } finally {
      gpu!.release(p);
    }
  },
});

Deno.test({
  name: "webgpu thread: waiting live calls run before waiting research calls",
  ignore,
  async fn() {
    const w = randomWeights(64, 2048, {
      activation: { kind: "relu", bEnc: random(2048, 14) },
      seed: 15,
    });
    const p = await gpu!.prepare(w);
    try {
      const s = matrix([4, 64], random(4 * 64, 16));
      await gpu!.encode(p, s, { top: 4 }); // warm
      const done: string[] = [];
      const call = (name: string, priority: "live" | "research") =>
        gpu!.encode(p, s, { top: 4, priority }).then(() => done.push(name));
      // The first runs at once; the rest wait, then run one at a time, live ones first.
      await Promise.all([
        call("research 1", "research"),
        call("research 2", "research"),
        call("research 3", "research"),
        call("live 1", "live"),
        call("live 2", "live"),
      ]);
      assert.deepEqual(done, ["research 1", "live 1", "live 2", "research 2", "research 3"]);
    } finally {
      gpu!.release(p);
    }
  },
});

Deno.test({
  name: "webgpu thread: with liveTurns 1 a waiting research call goes after every live call",
  ignore,
  async fn() {
    const own = await webgpuThread({ maxBindingBytes: 64 << 10, liveTurns: 1 });
    try {
      const w = randomWeights(64, 512, {
        activation: { kind: "relu", bEnc: random(512, 3) },
        seed: 4,
      });
      const p = await own.prepare(w);
      const s = matrix([4, 64], random(4 * 64, 16));
      await own.encode(p, s, { top: 4 }); // warm
      const done: string[] = [];
      const call = (name: string, priority: "live" | "research") =>
        own.encode(p, s, { top: 4, priority }).then(() => done.push(name));
      await Promise.all([
        call("research 1", "research"),
        call("research 2", "research"),
        call("research 3", "research"),
        ...[1, 2, 3, 4].map((n) => call(`live ${n}`, "live")),
      ]);
      assert.deepEqual(done, [
        "research 1",
        "live 1",
        "research 2",
        "live 2",
        "research 3",
        "live 3",
        "live 4",
      ]);
    } finally {
      await own.close();
    }
  },
});

Deno.test({
  name: "webgpu thread: a release waits behind calls posted before it; cancelled calls give " +
    "their buffers back",
  ignore,
  async fn() {
    const w = randomWeights(64, 2048, {
      activation: { kind: "relu", bEnc: random(2048, 22) },
      seed: 23,
    });
    const p = await gpu!.prepare(w);
    const s = matrix([4, 64], random(4 * 64, 24));
    await gpu!.encode(p, s, { top: 4 }); // warm
    const first = gpu!.encode(p, s, { top: 4 });
    const queued = gpu!.encode(p, s, { top: 4, priority: "research" });
    gpu!.release(p);
    await first;
    assert.equal((await queued).indices.length, 4, "the research call ran before the release");
    await assert.rejects(gpu!.encode(p, s), /does not hold that dictionary/);

    // More live calls than a research turn lets pass: the release still runs after all of them.
    const r = await gpu!.prepare(w);
    const lives = Array.from({ length: 7 }, () => gpu!.encode(r, s, { top: 4 }));
    gpu!.release(r);
    for (const call of lives) assert.equal((await call).indices.length, 4);
    await assert.rejects(gpu!.encode(r, s), /does not hold that dictionary/);

    const q = await gpu!.prepare(w);
    try {
      await Promise.all([1, 2, 3, 4].map(() => gpu!.encode(q, s, { top: 4 })));
      const before = gpu!.spareCounts().kept;
      assert.ok(before >= 3, `${before} buffers kept`);
      const running = gpu!.encode(q, s, { top: 4 });
      const cancelled = Array.from({ length: 3 }, () => {
        const controller = new AbortController();
        const call = gpu!.encode(q, s, { top: 4, signal: controller.signal });
        controller.abort(new Error("gone"));
        return call.catch(() => null);
      });
      await Promise.all([running, ...cancelled]);
      await gpu!.encode(q, s, { top: 4 }); // answered after the cancellations were
      assert.equal(gpu!.spareCounts().kept, before, "the cancelled calls gave their buffers back");
    } finally {
      gpu!.release(q);
    }
  },
});

Deno.test({
  name: "webgpu thread: close ends the worker; later calls are refused (last test)",
  ignore,
  async fn() {
    await gpu!.close();
    assert.equal(gpu!.health!().healthy, false);
    await assert.rejects(
      gpu!.matmul(matrix([1, 1]), matrix([1, 1])),
      (e: unknown) => e instanceof SaeError && e.kind === "unavailable",
    );
    assert.match(await gpu!.lost, /closed/);
  },
});
