import assert from "node:assert/strict";
import { upload } from "./buffers.ts";
import { openDevice } from "./device.ts";
import { ReadBackPool } from "./read_back.ts";

const opened = await openDevice().catch(() => null);
const ignore = !opened;

/** Copy `values` to the GPU, then into a staging buffer from `pool`, and read `ranges` back. */
async function roundTrip(
  pool: ReadBackPool,
  values: Float32Array,
  ranges: { offset: number; bytes: number }[],
): Promise<Float32Array[]> {
  const device = opened!.device;
  const src = upload(device, values);
  try {
    const staging = pool.take(values.byteLength);
    const e = device.createCommandEncoder();
    e.copyBufferToBuffer(src, 0, staging.buffer, 0, values.byteLength);
    device.queue.submit([e.finish()]);
    return (await pool.read(staging, ranges)).map((b) => new Float32Array(b));
  } finally {
    src.destroy();
  }
}

Deno.test({
  name: "read-back: a new buffer is awaited, a reused one read at once, with this round's bytes",
  ignore,
  async fn() {
    const pool = new ReadBackPool(opened!.device);
    try {
      for (let round = 0; round < 6; round++) {
        const values = Float32Array.from({ length: 100 }, (_, i) => round * 1000 + i);
        const [all, middle] = await roundTrip(pool, values, [
          { offset: 0, bytes: 400 },
          { offset: 40, bytes: 12 },
        ]);
        assert.deepEqual([...all], [...values], `round ${round}`);
        assert.deepEqual([...middle], [round * 1000 + 10, round * 1000 + 11, round * 1000 + 12]);
      }
      assert.deepEqual(pool.counts(), { fast: 5, awaited: 1 });
    } finally {
      pool.destroy();
    }
  },
});

Deno.test({
  name: "read-back: buffers in flight together are distinct; each size is reused",
  ignore,
  async fn() {
    const device = opened!.device;
    const pool = new ReadBackPool(device);
    try {
      for (let round = 0; round < 3; round++) {
        const a = Float32Array.from({ length: 64 }, (_, i) => i + round);
        const b = Float32Array.from({ length: 64 }, (_, i) => -i - round);
        const [ra, rb] = await Promise.all([
          roundTrip(pool, a, [{ offset: 0, bytes: 256 }]),
          roundTrip(pool, b, [{ offset: 0, bytes: 256 }]),
        ]);
        assert.deepEqual([...ra[0]], [...a]);
        assert.deepEqual([...rb[0]], [...b]);
      }
      // Two buffers made (both awaited once), then reused twice each.
      assert.deepEqual(pool.counts(), { fast: 4, awaited: 2 });
      const small = pool.take(16);
      assert.equal(small.primed, true, "a kept 256-byte buffer serves a 16-byte read");
      pool.discard(small);
    } finally {
      pool.destroy();
    }
  },
});

Deno.test({
  name: "read-back: buffers above the kept size, or beyond the kept count, are not reused",
  ignore,
  async fn() {
    const pool = new ReadBackPool(opened!.device, { maxKept: 1, maxKeptBytes: 1024 });
    try {
      const big = new Float32Array(1024).fill(3); // 4 KiB: used once
      for (let i = 0; i < 2; i++) await roundTrip(pool, big, [{ offset: 0, bytes: 4096 }]);
      assert.deepEqual(pool.counts(), { fast: 0, awaited: 2 });
      const small = new Float32Array(8).fill(1);
      await Promise.all([
        roundTrip(pool, small, [{ offset: 0, bytes: 32 }]),
        roundTrip(pool, small, [{ offset: 0, bytes: 32 }]),
      ]);
      assert.deepEqual(pool.counts(), { fast: 0, awaited: 4 });
      const [again] = await roundTrip(pool, small, [{ offset: 0, bytes: 32 }]);
      assert.deepEqual([...again], [...small]);
      assert.deepEqual(pool.counts(), { fast: 1, awaited: 4 }, "one of the two was kept");
      const next = pool.take(32);
      assert.equal(next.primed, true);
      const other = pool.take(32);
      assert.equal(other.primed, false, "only one was kept");
      pool.discard(next);
      pool.discard(other);
    } finally {
      pool.destroy();
    }
  },
});

Deno.test({
  name: "read_back: release the device (last test)",
  ignore,
  fn: () => opened!.device.destroy(),
});
