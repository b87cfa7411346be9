/**
 * The `webgpu` compute backend: dictionaries uploaded once into GPU buffers (split across
 * buffers beyond the adapter's binding limit), encode as a tiled GEMM with a fused activation
 * followed by a multi-level partial top-k on the GPU (only indices and values come back),
 * sparse decode and steer as GPU accumulations. Runs on any adapter, llvmpipe included.
 * @module
 */

import type { Backend, CallOptions, EncodeOptions, Prepared } from "../backend.ts";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import { SaeError } from "../../domain/errors.ts";
import { type Matrix, matrix, row, type SparseRows } from "../../domain/sae/matrix.ts";
import { activate, sparsify } from "../reference/mod.ts";
import { topK } from "../../domain/sae/top_k.ts";
import { columnSlice, type Span, spans } from "./chunks.ts";
import {
  decodeShader,
  EPILOGUE,
  EXCLUDED,
  GEMM_TILE,
  gemmShader,
  type GpuPrecision,
  SELECT,
  SELECT_BLOCK,
  SKINNY_MAX_ROWS,
  SKINNY_ROWS,
  skinnyShader,
} from "./wgsl.ts";
import { f32ToBf16, f32ToF16 } from "../../domain/io/dtype.ts";

export type { GpuPrecision } from "./wgsl.ts";

/** Options of {@link webgpuBackend}. */
export interface WebGpuBackendOptions {
  /** Refuse software adapters (what `auto` wants). Default false: any adapter. */
  requireHardware?: boolean;
  /** Largest buffer binding used, in bytes (default: the adapter's limit). Tests lower it. */
  maxBindingBytes?: number;
  /** Stored weight precision (default f32); f16 and bf16 halve GPU memory and bandwidth. */
  weights?: GpuPrecision;
}

/** A backend holding a GPU device: close it when done. */
export interface WebGpuBackend extends Backend {
  /** The adapter's description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  readonly adapter: string;
  /** Largest buffer binding used, in bytes. */
  readonly maxBinding: number;
  /** Stored weight precision. */
  readonly precision: GpuPrecision;
  /** Whether the adapter is a software fallback. */
  readonly fallbackAdapter: boolean;
  /** Resolves when the device is lost (never, normally). */
  readonly lost: Promise<string>;
  /** Release the device. */
  close(): void;
}

interface Chunk {
  readonly buffer: GPUBuffer;
  readonly span: Span;
  /** Stored elements per row (even for the packed precisions). */
  readonly ld: number;
}

interface GpuPrepared extends Prepared {
  readonly encoder: Chunk[];
  readonly decoder: Chunk[];
  readonly bias: GPUBuffer;
  readonly thr: GPUBuffer;
  readonly bmag: GPUBuffer;
  readonly buffers: GPUBuffer[];
}

/** A GPU buffer's first `bytes` to copy back to the host after a submission. */
interface ReadBack {
  readonly buffer: GPUBuffer;
  readonly bytes: number;
}

/** Bytes per queue.writeBuffer call of an upload. */
const UPLOAD_SLICE = 16 << 20;

/** Largest top-k selected on the GPU; wider selections read the scores back. */
const MAX_GPU_K = SELECT_BLOCK / 2;

/** Open an adapter and device, or null when there is none (or only a software one and `requireHardware`). */
async function openDevice(
  requireHardware: boolean,
): Promise<{ adapter: GPUAdapter; device: GPUDevice } | null> {
  if (!("gpu" in navigator) || !navigator.gpu) return null;
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter || (requireHardware && adapter.info.isFallbackAdapter)) return null;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
  return { adapter, device };
}

/** Whether this machine has a real (non-fallback) WebGPU adapter. */
export async function hasHardwareAdapter(): Promise<boolean> {
  try {
    const adapter = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
    return !!adapter && !adapter.info.isFallbackAdapter;
  } catch {
    return false;
  }
}

/** Start the WebGPU backend; throws SaeError "unavailable" when no usable adapter exists. */
export async function webgpuBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const opened = await openDevice(options.requireHardware ?? false);
  if (!opened) throw new SaeError("unavailable", "no WebGPU adapter is available");
  const { adapter, device } = opened;
  const maxBinding = Math.min(
    options.maxBindingBytes ?? Infinity,
    device.limits.maxStorageBufferBindingSize,
    device.limits.maxBufferSize,
  );
  const lost = device.lost.then((info) => info.message || String(info.reason) || "device lost");
  let lostReason: string | null = null;
  lost.then((reason) => (lostReason = reason));

  /** Throw SaeError "unavailable" once the device is gone (the backend set then fails over). */
  function alive(): void {
    if (lostReason !== null) throw new SaeError("unavailable", `GPU device lost: ${lostReason}`);
  }

  /** Run `fn` inside out-of-memory and validation error scopes; a GPU error becomes "unavailable". */
  async function guarded<T>(fn: () => Promise<T> | T): Promise<T> {
    alive();
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      await device.popErrorScope().catch(() => null);
      await device.popErrorScope().catch(() => null);
      alive();
      throw e;
    }
    const validation = await device.popErrorScope();
    const memory = await device.popErrorScope();
    const error = memory ?? validation;
    if (error) {
      throw new SaeError(
        "unavailable",
        `GPU ${memory ? "out of memory" : "error"}: ${error.message}`,
      );
    }
    alive();
    return result;
  }
  /** Run a public operation: a lost device, or any WebGPU failure, becomes SaeError "unavailable". */
  async function safely<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    alive();
    signal?.throwIfAborted();
    try {
      return await fn();
    } catch (e) {
      alive();
      if (e instanceof SaeError || e instanceof RangeError) throw e;
      throw new SaeError("unavailable", `GPU failure: ${(e as Error)?.message ?? e}`, { cause: e });
    }
  }

  const precision = options.weights ?? "f32";
  const f32 = {
    gemm: pipeline(device, gemmShader("f32")),
    skinny: pipeline(device, skinnyShader("f32")),
  };
  const stored = precision === "f32" ? f32 : {
    gemm: pipeline(device, gemmShader(precision)),
    skinny: pipeline(device, skinnyShader(precision)),
  };
  const pipelines = {
    select: pipeline(device, SELECT),
    decode: pipeline(device, decodeShader(precision)),
  };

  /** A [rows, cols] f32 matrix in the stored precision, rows padded to an even length when packed. */
  function storedMatrix(
    data: Float32Array,
    rows: number,
    cols: number,
  ): { array: Float32Array | Uint16Array; ld: number } {
    if (precision === "f32") return { array: data, ld: cols };
    const ld = cols + (cols & 1);
    const out = new Uint16Array(rows * ld);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const v = data[r * cols + c];
        if (precision === "f16" && Math.abs(v) > 65504) {
          throw new SaeError(
            "unavailable",
            `weight ${v} does not fit in f16; use SAESERVE_WEIGHTS=bf16 or f32`,
          );
        }
        out[r * ld + c] = precision === "f16" ? f32ToF16(v) : f32ToBf16(v);
      }
    }
    return { array: out, ld };
  }
  const dummy = upload(device, new Float32Array(4));

  function pipeline(d: GPUDevice, code: string): GPUComputePipeline {
    return d.createComputePipeline({
      layout: "auto",
      compute: { module: d.createShaderModule({ code }), entryPoint: "main" },
    });
  }

  /**
   * A storage buffer holding `data`, written through the queue in slices (wgpu copies each into
   * its staging memory). Buffers mapped at creation were measured at about 20 MB/s on an H200
   * under Deno 2.9.6, which made every upload, not the GEMM, the cost of an encode.
   */
  function upload(
    d: GPUDevice,
    data: ArrayBufferView,
    usage = 0,
  ): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    const buffer = d.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | usage,
    });
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const whole = bytes.byteLength & ~3;
    for (let at = 0; at < whole; at += UPLOAD_SLICE) {
      const end = Math.min(whole, at + UPLOAD_SLICE);
      // Views of shared memory (the WASM heap) are copied out first: writeBuffer takes neither.
      const piece = bytes.buffer instanceof ArrayBuffer
        ? (bytes as Uint8Array<ArrayBuffer>).subarray(at, end)
        : bytes.slice(at, end);
      d.queue.writeBuffer(buffer, at, piece);
    }
    if (whole < bytes.byteLength) {
      // writeBuffer moves multiples of 4 bytes: the tail goes in zero-padded.
      const tail = new Uint8Array(4);
      tail.set(bytes.subarray(whole));
      d.queue.writeBuffer(buffer, whole, tail);
    }
    return buffer;
  }

  function storage(bytes: number): GPUBuffer {
    return device.createBuffer({
      size: Math.max(16, Math.ceil(bytes / 16) * 16),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
  }

  function uniform(words: number[]): GPUBuffer {
    const data = new Uint32Array(Math.ceil(words.length / 4) * 4);
    data.set(words);
    const buffer = device.createBuffer({
      size: data.byteLength,
      usage: GPUBufferUsage.UNIFORM,
      mappedAtCreation: true,
    });
    new Uint32Array(buffer.getMappedRange()).set(data);
    buffer.unmap();
    return buffer;
  }

  /** Record one dispatch of `pipe` with `buffers` bound in order. */
  function dispatch(
    pass: GPUComputePassEncoder,
    pipe: GPUComputePipeline,
    buffers: GPUBuffer[],
    groups: [number, number],
  ): void {
    pass.setPipeline(pipe);
    pass.setBindGroup(
      0,
      device.createBindGroup({
        layout: pipe.getBindGroupLayout(0),
        entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
      }),
    );
    pass.dispatchWorkgroups(groups[0], groups[1]);
  }

  /**
   * Record one compute pass with `record`, copy the buffers it names for reading into one
   * staging buffer in the same submission, and wait once: Deno's WebGPU polls for completion
   * about every 10 ms, so each extra wait costs that much. Temporaries are destroyed after.
   */
  function run(
    record: (pass: GPUComputePassEncoder, temp: (b: GPUBuffer) => GPUBuffer) => ReadBack[],
  ): Promise<ArrayBuffer[]> {
    return guarded(() => submit(record));
  }

  async function submit(
    record: (pass: GPUComputePassEncoder, temp: (b: GPUBuffer) => GPUBuffer) => ReadBack[],
  ): Promise<ArrayBuffer[]> {
    const temps: GPUBuffer[] = [];
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    const reads = record(pass, (b) => {
      temps.push(b);
      return b;
    });
    pass.end();
    const offsets: number[] = [];
    let total = 0;
    for (const r of reads) {
      offsets.push(total);
      total += Math.ceil(r.bytes / 16) * 16;
    }
    const staging = total > 0
      ? device.createBuffer({
        size: total,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      })
      : null;
    reads.forEach((r, i) => {
      encoder.copyBufferToBuffer(r.buffer, 0, staging!, offsets[i], Math.ceil(r.bytes / 4) * 4);
    });
    device.queue.submit([encoder.finish()]);
    try {
      if (!staging) {
        await device.queue.onSubmittedWorkDone();
        return [];
      }
      await staging.mapAsync(GPUMapMode.READ);
      const mapped = staging.getMappedRange();
      const out = reads.map((r, i) => mapped.slice(offsets[i], offsets[i] + r.bytes));
      staging.unmap();
      return out;
    } finally {
      staging?.destroy();
      for (const b of temps) b.destroy();
    }
  }

  /** GEMM of `a` (a GPU buffer [m, lda]) against column chunks of B, into C [m, ldc]. */
  function gemmChunks(
    pass: GPUComputePassEncoder,
    temp: (b: GPUBuffer) => GPUBuffer,
    args: {
      a: GPUBuffer;
      m: number;
      k: number;
      lda: number;
      /** Whether B holds the dictionary's stored-precision weights (else plain f32). */
      weights?: boolean;
      chunks: Chunk[];
      c: GPUBuffer;
      ldc: number;
      act: number;
      p?: GpuPrepared;
    },
  ): void {
    for (const chunk of args.chunks) {
      const n = chunk.span.end - chunk.span.start;
      const params = temp(
        uniform([
          args.m,
          n,
          args.k,
          args.lda,
          chunk.ld,
          args.ldc,
          0,
          chunk.span.start,
          0,
          args.act,
        ]),
      );
      const skinny = args.m <= SKINNY_MAX_ROWS;
      dispatch(
        pass,
        (args.weights ? stored : f32)[skinny ? "skinny" : "gemm"],
        [
          args.a,
          chunk.buffer,
          args.c,
          params,
          args.p?.bias ?? dummy,
          args.p?.thr ?? dummy,
          args.p?.bmag ?? dummy,
        ],
        skinny
          ? [Math.ceil(n / 256), Math.ceil(args.m / SKINNY_ROWS)]
          : [Math.ceil(n / GEMM_TILE), Math.ceil(args.m / GEMM_TILE)],
      );
    }
  }

  /** Dense scores [rows, dSae] of a block of rows (EXCLUDED where inactive, or raw with act none). */
  async function scores(p: GpuPrepared, s: Matrix, act: number): Promise<Float32Array> {
    const w = p.weights;
    const out = storage(s.rows * w.dSae * 4);
    const a = upload(device, s.data);
    try {
      const [h] = await run((pass, temp) => {
        gemmChunks(pass, temp, {
          a,
          weights: true,
          m: s.rows,
          k: w.dIn,
          lda: w.dIn,
          chunks: p.encoder,
          c: out,
          ldc: w.dSae,
          act,
          p,
        });
        return [{ buffer: out, bytes: s.rows * w.dSae * 4 }];
      });
      return new Float32Array(h);
    } finally {
      a.destroy();
      out.destroy();
    }
  }

  /** Encode a block of rows whose scores fit one binding, selecting `cap` per row on the GPU. */
  async function encodeBlock(
    p: GpuPrepared,
    s: Matrix,
    act: number,
    cap: number,
  ): Promise<SparseRows> {
    const w = p.weights;
    const n = w.dSae;
    const m = s.rows;
    const indices: Int32Array[] = [];
    const values: Float32Array[] = [];
    if (cap === 0 || cap > MAX_GPU_K) {
      // Unbounded (or very wide) selections: every active latent comes back.
      const h = await scores(p, s, act);
      for (let r = 0; r < m; r++) {
        const rowScores = h.subarray(r * n, (r + 1) * n);
        const chosen = topK(rowScores, cap === 0 ? n : cap, { keep: (v) => v > EXCLUDED / 2 });
        indices.push(chosen.indices);
        values.push(chosen.values);
      }
      return { width: n, indices, values };
    }
    const a = upload(device, s.data);
    const h = storage(m * n * 4);
    const levels: { vals: GPUBuffer; idx: GPUBuffer; count: number }[] = [];
    try {
      let count = n;
      let blocks = Math.ceil(count / SELECT_BLOCK);
      const [vBytes, ixBytes] = await run((pass, temp) => {
        gemmChunks(pass, temp, {
          a,
          weights: true,
          m,
          k: w.dIn,
          lda: w.dIn,
          chunks: p.encoder,
          c: h,
          ldc: n,
          act,
          p,
        });
        let vals = h;
        let idx = dummy;
        let implicit = 1;
        while (true) {
          const outLd = blocks * cap;
          const outVals = storage(m * outLd * 4);
          const outIdx = storage(m * outLd * 4);
          levels.push({ vals: outVals, idx: outIdx, count: outLd });
          const params = temp(uniform([count, count, cap, outLd, implicit, 0]));
          dispatch(pass, pipelines.select, [vals, idx, outVals, outIdx, params], [blocks, m]);
          if (blocks === 1) {
            return [{ buffer: outVals, bytes: m * cap * 4 }, {
              buffer: outIdx,
              bytes: m * cap * 4,
            }];
          }
          vals = outVals;
          idx = outIdx;
          implicit = 0;
          count = outLd;
          blocks = Math.ceil(count / SELECT_BLOCK);
        }
      });
      const v = new Float32Array(vBytes);
      const ix = new Uint32Array(ixBytes);
      for (let r = 0; r < m; r++) {
        let kept = 0;
        while (kept < cap && v[r * cap + kept] > EXCLUDED / 2) kept++;
        values.push(v.slice(r * cap, r * cap + kept));
        indices.push(Int32Array.from(ix.subarray(r * cap, r * cap + kept)));
      }
      return { width: n, indices, values };
    } finally {
      a.destroy();
      h.destroy();
      for (const level of levels) {
        level.vals.destroy();
        level.idx.destroy();
      }
    }
  }

  /** out[r] = init[r] + scale[r] * sum_j v_j W_dec[i_j], on the GPU, chunk by chunk. */
  async function accumulateRows(
    p: GpuPrepared,
    codes: SparseRows,
    init: Float32Array,
    scale: Float32Array,
  ): Promise<Matrix> {
    const w = p.weights;
    const rows = codes.indices.length;
    const width = Math.max(1, codes.indices.reduce((m, ix) => Math.max(m, ix.length), 0));
    const idx = new Int32Array(rows * width).fill(-1);
    const val = new Float32Array(rows * width);
    for (let r = 0; r < rows; r++) {
      const ix = codes.indices[r];
      for (let j = 0; j < ix.length; j++) {
        if (!(ix[j] >= 0 && ix[j] < w.dSae)) {
          throw new RangeError(`feature index ${ix[j]} outside [0, ${w.dSae})`);
        }
      }
      idx.set(ix, r * width);
      val.set(codes.values[r], r * width);
    }
    const out = upload(device, init);
    const buffers = [upload(device, idx), upload(device, val), upload(device, scale)];
    try {
      const [result] = await run((pass, temp) => {
        for (const chunk of p.decoder) {
          const params = temp(
            uniform([
              rows,
              w.dIn,
              width,
              chunk.span.start,
              chunk.span.end - chunk.span.start,
              chunk.ld,
            ]),
          );
          dispatch(pass, pipelines.decode, [chunk.buffer, ...buffers, out, params], [
            Math.ceil(w.dIn / 64),
            rows,
          ]);
        }
        return [{ buffer: out, bytes: rows * w.dIn * 4 }];
      });
      return matrix(rows, w.dIn, new Float32Array(result));
    } finally {
      out.destroy();
      for (const b of buffers) b.destroy();
    }
  }

  /** Rows per batch block so a block's dense scores fit one binding. */
  function blockRows(dSae: number): number {
    return Math.max(1, Math.min(65535, Math.floor(maxBinding / (dSae * 4))));
  }

  async function encodeAll(
    p: GpuPrepared,
    s: Matrix,
    options?: EncodeOptions,
  ): Promise<SparseRows> {
    const a = p.weights.activation;
    const top = options?.top;
    const indices: Int32Array[] = [];
    const values: Float32Array[] = [];
    const per = blockRows(p.weights.dSae);
    for (let r0 = 0; r0 < s.rows; r0 += per) {
      const block = matrix(
        Math.min(per, s.rows - r0),
        s.cols,
        s.data.subarray(r0 * s.cols, Math.min(s.rows, r0 + per) * s.cols),
      );
      let out: SparseRows;
      switch (a.kind) {
        case "relu":
          out = await encodeBlock(p, block, EPILOGUE.relu, top ?? 0);
          break;
        case "jumprelu":
          out = await encodeBlock(p, block, EPILOGUE.jumprelu, top ?? 0);
          break;
        case "gated":
          out = await encodeBlock(p, block, EPILOGUE.gated, top ?? 0);
          break;
        case "topk":
          out = await encodeBlock(p, block, EPILOGUE.relu, Math.min(a.k, top ?? a.k));
          break;
        case "groupmax": {
          // Whole groups are needed: raw scores come back and the activation runs here.
          const pre = await scores(p, block, EPILOGUE.none);
          const ix: Int32Array[] = [];
          const vs: Float32Array[] = [];
          for (let r = 0; r < block.rows; r++) {
            const chosen = sparsify(
              activate(a, pre.subarray(r * p.weights.dSae, (r + 1) * p.weights.dSae)),
              top,
            );
            ix.push(chosen.indices);
            vs.push(chosen.values);
          }
          out = { width: p.weights.dSae, indices: ix, values: vs };
        }
      }
      indices.push(...out.indices);
      values.push(...out.values);
    }
    return { width: p.weights.dSae, indices, values };
  }

  function decodeSparse(
    p: GpuPrepared,
    codes: SparseRows,
    options?: { bias?: boolean },
  ): Promise<Matrix> {
    const rows = codes.indices.length;
    const init = new Float32Array(rows * p.weights.dIn);
    if (options?.bias !== false) {
      for (let r = 0; r < rows; r++) init.set(p.weights.bDec, r * p.weights.dIn);
    }
    return accumulateRows(p, codes, init, new Float32Array(rows).fill(1));
  }

  async function decodeDense(
    p: GpuPrepared,
    codes: Matrix,
    options?: { bias?: boolean },
  ): Promise<Matrix> {
    const indices: Int32Array[] = [];
    const values: Float32Array[] = [];
    for (let r = 0; r < codes.rows; r++) {
      const chosen = topK(row(codes, r), codes.cols, { keep: (v) => v !== 0 });
      indices.push(chosen.indices);
      values.push(chosen.values);
    }
    return await decodeSparse(p, { width: p.weights.dSae, indices, values }, options);
  }

  async function matmul(a: Matrix, b: Matrix, options?: { transposeB?: boolean }): Promise<Matrix> {
    const t = options?.transposeB ?? false;
    const inner = t ? b.cols : b.rows;
    const n = t ? b.rows : b.cols;
    if (a.cols !== inner) {
      throw new RangeError(`matmul: ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`);
    }
    let bt = b;
    if (t) {
      bt = matrix(inner, n);
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < inner; k++) bt.data[k * n + i] = b.data[i * inner + k];
      }
    }
    const chunks = spans(n, Math.floor(maxBinding / (inner * 4)), { multiple: GEMM_TILE }).map((
      span,
    ) => ({
      span,
      ld: span.end - span.start,
      buffer: upload(device, columnSlice(bt.data, bt, span)),
    }));
    const aBuf = upload(device, a.data);
    const c = storage(a.rows * n * 4);
    try {
      const [product] = await run((pass, temp) => {
        gemmChunks(pass, temp, {
          a: aBuf,
          m: a.rows,
          k: inner,
          lda: inner,
          chunks,
          c,
          ldc: n,
          act: EPILOGUE.none,
        });
        return [{ buffer: c, bytes: a.rows * n * 4 }];
      });
      return matrix(a.rows, n, new Float32Array(product));
    } finally {
      aBuf.destroy();
      c.destroy();
      for (const chunk of chunks) chunk.buffer.destroy();
    }
  }

  const backend: WebGpuBackend = {
    name: "webgpu",
    adapter: adapter.info.description || adapter.info.vendor,
    fallbackAdapter: adapter.info.isFallbackAdapter,
    maxBinding,
    precision,
    lost,
    prepare(weights: SaeWeights): Promise<Prepared> {
      const buffers: GPUBuffer[] = [];
      const keep = (b: GPUBuffer) => (buffers.push(b), b);
      return guarded(uploadAll).catch((e) => {
        for (const b of buffers) b.destroy();
        throw e;
      });
      function uploadAll(): Prepared {
        const { dIn, dSae } = weights;
        // Encoder [d_in, d_sae]: column chunks of whole GEMM tiles within one binding.
        const encoder = spans(dSae, Math.floor(maxBinding / (dIn * 4)), { multiple: GEMM_TILE })
          .map((span) => {
            const width = span.end - span.start;
            const { array, ld } = storedMatrix(
              columnSlice(weights.wEnc.data, weights.wEnc, span),
              dIn,
              width,
            );
            return { span, ld, buffer: keep(upload(device, array)) };
          });
        // Decoder [d_sae, d_in]: row chunks within one binding.
        const decoder = spans(dSae, Math.floor(maxBinding / (dIn * 4))).map((span) => {
          const rows = span.end - span.start;
          const { array, ld } = storedMatrix(
            weights.wDec.data.subarray(span.start * dIn, span.end * dIn),
            rows,
            dIn,
          );
          return { span, ld, buffer: keep(upload(device, array)) };
        });
        const a = weights.activation;
        const vec = (v: Float32Array | undefined) => (v ? keep(upload(device, v)) : dummy);
        const prepared: GpuPrepared = {
          weights,
          extraBytes: 0, // device memory, not host memory
          encoder,
          decoder,
          bias: vec(a.kind === "gated" ? a.bGate : a.bEnc),
          thr: vec(
            a.kind === "jumprelu" ? a.threshold : a.kind === "gated" ? a.magScale : undefined,
          ),
          bmag: vec(a.kind === "gated" ? a.bMag : undefined),
          buffers,
        };
        return prepared;
      }
    },
    release(prepared: Prepared): void {
      for (const b of (prepared as GpuPrepared).buffers) b.destroy();
    },
    encode(prepared: Prepared, s: Matrix, options?: EncodeOptions): Promise<SparseRows> {
      return safely(() => encodeAll(prepared as GpuPrepared, s, options), options?.signal);
    },
    decodeSparse(
      prepared: Prepared,
      codes: SparseRows,
      options?: { bias?: boolean } & CallOptions,
    ): Promise<Matrix> {
      return safely(() => decodeSparse(prepared as GpuPrepared, codes, options), options?.signal);
    },
    decodeDense(
      prepared: Prepared,
      codes: Matrix,
      options?: { bias?: boolean } & CallOptions,
    ): Promise<Matrix> {
      return safely(() => decodeDense(prepared as GpuPrepared, codes, options), options?.signal);
    },
    steer(
      prepared: Prepared,
      x: Matrix,
      deltas: SparseRows,
      options?: { rowScale?: Float32Array } & CallOptions,
    ): Promise<Matrix> {
      const scale = options?.rowScale ?? new Float32Array(x.rows).fill(1);
      return safely(
        () => accumulateRows(prepared as GpuPrepared, deltas, x.data.slice(), scale),
        options?.signal,
      );
    },
    matmul(
      a: Matrix,
      b: Matrix,
      options?: { transposeB?: boolean } & CallOptions,
    ): Promise<Matrix> {
      return safely(() => matmul(a, b, options), options?.signal);
    },
    topK(m: Matrix, k: number, options?: CallOptions): Promise<SparseRows> {
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
      const indices: Int32Array[] = [];
      const values: Float32Array[] = [];
      for (let r = 0; r < m.rows; r++) {
        const chosen = topK(row(m, r), k);
        indices.push(chosen.indices);
        values.push(chosen.values);
      }
      return Promise.resolve({ width: m.cols, indices, values });
    },
    close(): void {
      dummy.destroy();
      device.destroy();
    },
  };
  return backend;
}
