/**
 * Recording and submitting compute work: pipelines from WGSL, one dispatch with its buffers
 * bound in order, and a submission that records one compute pass, copies what it reads back
 * into one staging buffer and waits once.
 * @module
 */

import { ReadBackPool, type ReadRange } from "./read_back.ts";

/** A GPU buffer's first `bytes` to copy back to the host after a submission. */
export interface ReadBack {
  readonly buffer: GPUBuffer;
  readonly bytes: number;
}

/** What a recorder gets: the pass being recorded, and `temp` to destroy a buffer afterwards. */
export interface Recording {
  readonly device: GPUDevice;
  readonly pass: GPUComputePassEncoder;
  /** Mark `buffer` as a temporary of this submission (destroyed after it); returns it. */
  temp(buffer: GPUBuffer): GPUBuffer;
}

/** Records a pass and names the buffers to read back. */
export type Recorder = (recording: Recording) => ReadBack[];

/** A compute pipeline running entry point `main` of `code`. */
export function pipeline(device: GPUDevice, code: string): GPUComputePipeline {
  return device.createComputePipeline({
    layout: "auto",
    compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
  });
}

/** Record one dispatch of `pipe` with `buffers` bound in order (bindings 0, 1, ...). */
export function dispatch(
  recording: Recording,
  pipe: GPUComputePipeline,
  options: { buffers: readonly GPUBuffer[]; groups: readonly [number, number] },
): void {
  const { device, pass } = recording;
  pass.setPipeline(pipe);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      layout: pipe.getBindGroupLayout(0),
      entries: options.buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    }),
  );
  pass.dispatchWorkgroups(options.groups[0], options.groups[1]);
}

/** Options of {@link submit}. */
export interface SubmitOptions {
  /** Staging buffers to reuse (read without Deno's 10 ms wait); absent: one new buffer. */
  readonly pool?: ReadBackPool;
}

/**
 * Record one compute pass with `record`, copy the buffers it names for reading into one
 * staging buffer in the same submission, and read them back once (with a `pool`, without the
 * 10 ms that each of Deno's waits adds; read_back.ts). Temporaries are destroyed after.
 * Resolves to the bytes read back, one ArrayBuffer per {@link ReadBack}.
 */
export async function submit(
  device: GPUDevice,
  record: Recorder,
  options: SubmitOptions = {},
): Promise<ArrayBuffer[]> {
  const temps: GPUBuffer[] = [];
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  const reads = record({
    device,
    pass,
    temp: (b) => {
      temps.push(b);
      return b;
    },
  });
  pass.end();
  const ranges: ReadRange[] = [];
  let total = 0;
  for (const r of reads) {
    ranges.push({ offset: total, bytes: r.bytes });
    total += Math.ceil(r.bytes / 16) * 16;
  }
  const pool = options.pool ?? new ReadBackPool(device, { maxKept: 0 });
  const staging = total > 0 ? pool.take(total) : null;
  let read = false;
  try {
    reads.forEach((r, i) => {
      const to = ranges[i].offset;
      encoder.copyBufferToBuffer(r.buffer, 0, staging!.buffer, to, Math.ceil(r.bytes / 4) * 4);
    });
    device.queue.submit([encoder.finish()]);
    if (!staging) {
      await device.queue.onSubmittedWorkDone();
      return [];
    }
    read = true;
    return await pool.read(staging, ranges);
  } finally {
    if (staging && !read) pool.discard(staging);
    for (const b of temps) b.destroy();
  }
}
