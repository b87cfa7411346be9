/**
 * What moving data and waiting cost on this machine's WebGPU adapter under Deno: the floor of
 * one wait (an empty submission; a 4-byte read back), and host-to-GPU bytes per second through
 * a buffer mapped at creation and through queue.writeBuffer, and GPU-to-host through mapAsync,
 * awaited on a new staging buffer or read at once from a reused one (backends/gpu/read_back.ts).
 * Run by bench/gpu.sh before the encode comparison; one JSON line per measurement.
 * @module
 */

const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
if (!adapter) throw new Error("no WebGPU adapter");
const device = await adapter.requestDevice({
  requiredLimits: { maxBufferSize: adapter.limits.maxBufferSize },
});
import { ReadBackPool } from "../backends/gpu/read_back.ts";

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

async function median(runs: number, fn: () => Promise<void>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

function report(what: string, ms: number, bytes = 0): void {
  const line: Record<string, unknown> = { transfer: what, median_ms: +ms.toFixed(3) };
  if (bytes) line.gb_per_s = +(bytes / (ms / 1000) / 1e9).toFixed(3);
  console.log(JSON.stringify(line));
}

const small = device.createBuffer({ size: 16, usage: STORAGE });
report(
  "empty submit + onSubmittedWorkDone",
  await median(20, async () => {
    device.queue.submit([]);
    await device.queue.onSubmittedWorkDone();
  }),
);
report(
  "16-byte copy + mapAsync",
  await median(20, async () => {
    const staging = device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const e = device.createCommandEncoder();
    e.copyBufferToBuffer(small, 0, staging, 0, 16);
    device.queue.submit([e.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    staging.unmap();
    staging.destroy();
  }),
);
const pool = new ReadBackPool(device);
report(
  "16-byte copy + pooled read-back (read_back.ts)",
  await median(20, async () => {
    const staging = pool.take(16);
    const e = device.createCommandEncoder();
    e.copyBufferToBuffer(small, 0, staging.buffer, 0, 16);
    device.queue.submit([e.finish()]);
    await pool.read(staging, [{ offset: 0, bytes: 16 }]);
  }),
);
console.log(JSON.stringify({ pooled_read_backs: pool.counts() }));

for (const mib of [64, 256]) {
  const bytes = mib << 20;
  const data = new Uint8Array(bytes).fill(7);
  report(
    `${mib} MiB mappedAtCreation`,
    await median(3, async () => {
      const b = device.createBuffer({ size: bytes, usage: STORAGE, mappedAtCreation: true });
      new Uint8Array(b.getMappedRange()).set(data);
      b.unmap();
      device.queue.submit([]);
      await device.queue.onSubmittedWorkDone();
      b.destroy();
    }),
    bytes,
  );
  report(
    `${mib} MiB writeBuffer (16 MiB slices)`,
    await median(3, async () => {
      const b = device.createBuffer({ size: bytes, usage: STORAGE });
      for (let at = 0; at < bytes; at += 16 << 20) {
        device.queue.writeBuffer(b, at, data.subarray(at, at + (16 << 20)));
      }
      device.queue.submit([]);
      await device.queue.onSubmittedWorkDone();
      b.destroy();
    }),
    bytes,
  );
  const src = device.createBuffer({ size: bytes, usage: STORAGE });
  report(
    `${mib} MiB copy + mapAsync + slice`,
    await median(3, async () => {
      const staging = device.createBuffer({
        size: bytes,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      const e = device.createCommandEncoder();
      e.copyBufferToBuffer(src, 0, staging, 0, bytes);
      device.queue.submit([e.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      staging.getMappedRange().slice(0);
      staging.unmap();
      staging.destroy();
    }),
    bytes,
  );
  if (mib === 64) {
    report(
      `${mib} MiB copy + pooled read-back (read_back.ts)`,
      await median(3, async () => {
        const staging = pool.take(bytes);
        const e = device.createCommandEncoder();
        e.copyBufferToBuffer(src, 0, staging.buffer, 0, bytes);
        device.queue.submit([e.finish()]);
        await pool.read(staging, [{ offset: 0, bytes }]);
      }),
      bytes,
    );
  }
  src.destroy();
}
pool.destroy();
device.destroy();
