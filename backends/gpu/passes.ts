/**
 * Recording and submitting compute work: pipelines from WGSL, dispatches with their buffers
 * bound in order recorded into a plan (kept for reuse or not), and a submission that plays a
 * plan as one compute pass, copies what it reads back into one staging buffer and waits once.
 * @module
 */

import { ReadBackPool, type ReadRange } from "./read_back.ts";

/** A GPU buffer's first `bytes` to copy back to the host after a submission. */
export interface ReadBack {
  readonly buffer: GPUBuffer;
  readonly bytes: number;
}

/** One recorded dispatch: a pipeline, its bound buffers, its workgroup counts. */
export interface Step {
  readonly pipe: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly groups: readonly [number, number];
}

/** What a recorder gets: the dispatches so far, and `temp` to give a buffer to the work. */
export interface Recording {
  readonly device: GPUDevice;
  /** The dispatches recorded, in order (see {@link dispatch}). */
  readonly steps: Step[];
  /** Mark `buffer` as the work's own (destroyed with it); returns it. */
  temp(buffer: GPUBuffer): GPUBuffer;
}

/** Records dispatches and names the buffers to read back. */
export type Recorder = (recording: Recording) => ReadBack[];

/** Recorded work, which can be submitted more than once: dispatches, read-backs, own buffers. */
export interface Plan {
  readonly steps: readonly Step[];
  readonly reads: readonly ReadBack[];
  /** Buffers the work owns, destroyed by {@link destroyPlan}. */
  readonly temps: readonly GPUBuffer[];
}

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
  const bindGroup = recording.device.createBindGroup({
    layout: pipe.getBindGroupLayout(0),
    entries: options.buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  recording.steps.push({ pipe, bindGroup, groups: options.groups });
}

/** Run `recorder` into a plan; if it throws, the buffers it made are destroyed. */
export function record(device: GPUDevice, recorder: Recorder): Plan {
  const steps: Step[] = [];
  const temps: GPUBuffer[] = [];
  try {
    const reads = recorder({ device, steps, temp: (b) => (temps.push(b), b) });
    return { steps, reads, temps };
  } catch (e) {
    for (const b of temps) b.destroy();
    throw e;
  }
}

/** Destroy the buffers a plan owns. */
export function destroyPlan(plan: Plan): void {
  for (const b of plan.temps) b.destroy();
}

/** Options of {@link submit} and {@link play}. */
export interface SubmitOptions {
  /** Staging buffers to reuse (read without Deno's 10 ms wait); absent: one new buffer. */
  readonly pool?: ReadBackPool;
}

/**
 * Submit `plan` as one compute pass, copy the buffers it names for reading into one staging
 * buffer in the same submission, and read them back once (with a `pool`, without the 10 ms
 * that each of Deno's waits adds; read_back.ts). Resolves to one ArrayBuffer per read-back.
 */
export async function play(
  device: GPUDevice,
  plan: Plan,
  options: SubmitOptions = {},
): Promise<ArrayBuffer[]> {
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  for (const step of plan.steps) {
    pass.setPipeline(step.pipe);
    pass.setBindGroup(0, step.bindGroup);
    pass.dispatchWorkgroups(step.groups[0], step.groups[1]);
  }
  pass.end();
  const ranges: ReadRange[] = [];
  let total = 0;
  for (const r of plan.reads) {
    ranges.push({ offset: total, bytes: r.bytes });
    total += Math.ceil(r.bytes / 16) * 16;
  }
  const pool = options.pool ?? new ReadBackPool(device, { maxKept: 0 });
  const staging = total > 0 ? pool.take(total) : null;
  let read = false;
  try {
    plan.reads.forEach((r, i) => {
      if (r.bytes === 0) return;
      const to = ranges[i].offset;
      encoder.copyBufferToBuffer(r.buffer, 0, staging!.buffer, to, Math.ceil(r.bytes / 4) * 4);
    });
    device.queue.submit([encoder.finish()]);
    if (!staging) {
      // Nothing to read (or only empty reads, e.g. zero rows): wait for the work.
      await device.queue.onSubmittedWorkDone();
      return plan.reads.map(() => new ArrayBuffer(0));
    }
    read = true;
    return await pool.read(staging, ranges);
  } finally {
    if (staging && !read) pool.discard(staging);
  }
}

/** Record work once, submit it ({@link play}) and destroy its own buffers after. */
export async function submit(
  device: GPUDevice,
  recorder: Recorder,
  options: SubmitOptions = {},
): Promise<ArrayBuffer[]> {
  const plan = record(device, recorder);
  try {
    return await play(device, plan, options);
  } finally {
    destroyPlan(plan);
  }
}
