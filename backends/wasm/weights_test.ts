import assert from "node:assert/strict";
import { SaeError } from "../../domain/errors.ts";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import { type Matrix, matrix } from "../../domain/sae/matrix.ts";
import { uniformArray } from "../../domain/random.ts";
import { KernelCalls } from "./calls.ts";
import { SharedHeap } from "./heap.ts";
import { compileKernels } from "./kernels_module.ts";
import { KernelPool } from "./pool.ts";
import { WeightStore } from "./weights.ts";

const heap = new SharedHeap(
  new WebAssembly.Memory({ initial: 32, maximum: 1024, shared: true }),
  0,
);
const pool = await KernelPool.start(await compileKernels(), heap, { threads: 2 });
const calls = new KernelCalls(pool, { heap, checkpointWork: 4096 });

function weights(wEnc: Matrix, wDec: Matrix): SaeWeights {
  return {
    dIn: wEnc.rows,
    dSae: wEnc.cols,
    wEnc,
    wDec,
    bDec: new Float32Array(wEnc.rows),
    preBias: null,
    activation: { kind: "relu", bEnc: new Float32Array(wEnc.cols) },
    normalization: "none",
    wSkip: null,
  };
}

Deno.test("prepare packs the encoder into panels of 8 columns and pads the decoder", async () => {
  const store = new WeightStore(calls, { precision: "f32" });
  const wEnc = matrix([3, 12], Float32Array.from({ length: 36 }, (_, i) => i));
  const wDec = matrix([12, 3], uniformArray(36, 1));
  const before = heap.allocatedBytes;
  const p = await store.prepare(weights(wEnc, wDec));
  // Panel 1 (columns 8..15, padded): k-major, 8 floats per k.
  const panel = heap.f32(p.encoder.ptr + p.encoder.panelStride, 8);
  assert.deepEqual([...panel], [8, 9, 10, 11, 0, 0, 0, 0]);
  assert.equal(p.decoder.ldb, 8 * 4);
  assert.deepEqual([...heap.f32(p.decoder.ptr, 4)], [...wDec.data.subarray(0, 3), 0]);
  assert.equal(p.weights.wEnc, wEnc, "copied, so the caller's matrices stay valid");
  store.release(p);
  assert.equal(heap.allocatedBytes, before);
});

Deno.test("bf16 weights take half the bytes; extraBytes counts the difference", async () => {
  const store = new WeightStore(calls, { precision: "bf16" });
  const w = weights(
    matrix([16, 64], uniformArray(1024, 2)),
    matrix([64, 16], uniformArray(1024, 3)),
  );
  const p = await store.prepare(w);
  assert.equal(p.encoder.bytes, 16 * 64 * 2);
  assert.equal(p.extraBytes, -(2 * 1024 * 2) + 4 * 3 * 64);
  store.release(p);
});

Deno.test("arena matrices are adopted in place; the rest of the arena is freed on dispose", async () => {
  const store = new WeightStore(calls, { precision: "f32" });
  const before = heap.allocatedBytes;
  const arena = store.arena();
  const wEnc = matrix([4, 8], arena.alloc(32));
  const wDec = matrix([8, 4], arena.alloc(32));
  arena.alloc(100); // never adopted
  wEnc.data.set(uniformArray(32, 4));
  const p = await store.prepare(weights(wEnc, wDec));
  assert.equal(p.weights.wEnc.rows, 0, "no stale view of the re-packed encoder");
  arena.dispose();
  store.release(p);
  assert.equal(heap.allocatedBytes, before);
});

Deno.test("bf16 / f16 arenas: the first matrix is halved in place, the second takes the freed half", async () => {
  const halves = (ptr: number, bytes: number) => [...heap.u16(ptr, bytes / 2)];
  for (const precision of ["bf16", "f16"] as const) {
    for (const decoderFirst of [false, true]) {
      const what = `${precision}, ${decoderFirst ? "W_dec" : "W_enc"} first`;
      const store = new WeightStore(calls, { precision });
      const enc = uniformArray(24 * 64, 5);
      const dec = uniformArray(64 * 24, 6);
      // The same weights from ordinary arrays: converted a chunk at a time into new blocks.
      const before = heap.allocatedBytes;
      const want = await store.prepare(weights(matrix([24, 64], enc), matrix([64, 24], dec)));
      const wantBytes = heap.allocatedBytes - before;
      const arena = store.arena();
      const [first, second] = decoderFirst ? [dec, enc] : [enc, dec];
      const a = arena.alloc(first.length);
      const b = arena.alloc(second.length);
      a.set(first);
      b.set(second);
      const [wEnc, wDec] = decoderFirst
        ? [matrix([24, 64], b), matrix([64, 24], a)]
        : [matrix([24, 64], a), matrix([64, 24], b)];
      const end = heap.memory.buffer.byteLength;
      const got = await store.prepare(weights(wEnc, wDec));
      arena.dispose();
      assert.deepEqual(
        halves(got.encoder.ptr, got.encoder.bytes),
        halves(want.encoder.ptr, want.encoder.bytes),
        what,
      );
      assert.deepEqual(
        halves(got.decoder.ptr, got.decoder.bytes),
        halves(want.decoder.ptr, want.decoder.bytes),
        what,
      );
      assert.equal(heap.allocatedBytes - before, 2 * wantBytes, `${what}: only the stored bytes`);
      assert.equal(heap.memory.buffer.byteLength, end, `${what}: no growth past the f32 block`);
      assert.equal(
        got.decoder.ptr === got.encoder.ptr + got.encoder.bytes ||
          got.encoder.ptr === got.decoder.ptr + got.decoder.bytes,
        true,
        `${what}: the second matrix sits in the first one's freed half`,
      );
      store.release(want);
      store.release(got);
      assert.equal(heap.allocatedBytes, before, what);
    }
  }
});

Deno.test("an f16 arena matrix holding a weight beyond f16 is refused and its memory freed", async () => {
  const store = new WeightStore(calls, { precision: "f16" });
  const before = heap.allocatedBytes;
  const arena = store.arena();
  const enc = arena.alloc(16 * 64);
  enc.set(uniformArray(16 * 64, 7));
  enc[100] = 70000;
  const dec = arena.alloc(64 * 16);
  await assert.rejects(
    store.prepare(weights(matrix([16, 64], enc), matrix([64, 16], dec))),
    (e) => e instanceof RangeError && /does not fit in f16/.test(e.message),
  );
  arena.dispose();
  assert.equal(heap.allocatedBytes, before);
});

Deno.test("release during a call frees after it; a released dictionary is unavailable (last test)", async () => {
  const store = new WeightStore(calls, { precision: "f32" });
  const before = heap.allocatedBytes;
  const p = await store.prepare(weights(matrix([2, 8]), matrix([8, 2])));
  let finish = () => {};
  const running = store.using(p, () => new Promise<void>((resolve) => (finish = resolve)));
  store.release(p);
  assert.ok(heap.allocatedBytes > before, "still in use");
  finish();
  await running;
  assert.equal(heap.allocatedBytes, before);
  await assert.rejects(
    store.using(p, () => Promise.resolve()),
    (e) => e instanceof SaeError && e.kind === "unavailable",
  );
  pool.close();
});
