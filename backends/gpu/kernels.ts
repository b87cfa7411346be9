/**
 * The WebGPU backend's compiled kernels on one device: the tiled and skinny GEMMs (f32 and the
 * stored weight precision), the partial top-k and the decode accumulation, with the GEMM over
 * column chunks of B that encode and matmul share.
 * @module
 */

import { type Matrix, matrix } from "../../domain/sae/matrix.ts";
import type { Precision } from "../../domain/precision.ts";
import { storage, uniform, upload } from "./buffers.ts";
import { columnSlice, type Span, spans } from "./chunks.ts";
import {
  destroyPlan,
  dispatch,
  pipeline,
  type Plan,
  play,
  record,
  type Recorder,
  type Recording,
  submit,
} from "./passes.ts";
import { type ReadBackCounts, ReadBackPool } from "./read_back.ts";
import {
  decodeShader,
  EPILOGUE,
  GEMM_TILE,
  gemmShader,
  SELECT,
  SKINNY_COLUMNS,
  SKINNY_MAX_ROWS,
  SKINNY_ROWS,
  skinnyShader,
} from "./wgsl.ts";

/** One GPU buffer holding a span of a matrix's columns (encoder) or rows (decoder). */
export interface Chunk {
  readonly buffer: GPUBuffer;
  readonly span: Span;
  /** Stored elements per row (even for the packed precisions). */
  readonly ld: number;
}

/** The activation vectors a fused GEMM epilogue reads (the dummy buffer where unused). */
export interface EpilogueBuffers {
  readonly bias: GPUBuffer;
  readonly thr: GPUBuffer;
  readonly bmag: GPUBuffer;
}

/** Arguments of {@link GpuKernels.gemm}. */
export interface GemmArgs {
  /** A, a GPU buffer [m, lda]. */
  readonly a: GPUBuffer;
  readonly m: number;
  readonly k: number;
  readonly lda: number;
  /** Whether B holds the dictionary's stored-precision weights (else plain f32). */
  readonly weights?: boolean;
  /** B, as column chunks. */
  readonly chunks: readonly Chunk[];
  /** C, a GPU buffer [m, ldc]. */
  readonly c: GPUBuffer;
  readonly ldc: number;
  /** The epilogue (an `EPILOGUE` code). */
  readonly act: number;
  /** The epilogue's vectors (absent for `EPILOGUE.none`). */
  readonly epilogue?: EpilogueBuffers;
}

/** Options of the {@link GpuKernels} constructor. */
export interface GpuKernelsOptions {
  /** Largest buffer binding used, in bytes. */
  readonly maxBinding: number;
  /** Stored weight precision. */
  readonly precision: Precision;
  /** Runs each submission (error scopes); default: as is. */
  readonly guarded?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** The kernels of one device and what running them needs. */
export class GpuKernels {
  readonly device: GPUDevice;
  /** Largest buffer binding used, in bytes. */
  readonly maxBinding: number;
  /** Stored weight precision. */
  readonly precision: Precision;
  /** A 16-byte buffer bound where a kernel's optional input is unused. */
  readonly dummy: GPUBuffer;
  /** The partial top-k. */
  readonly select: GPUComputePipeline;
  /** The decode / steer accumulation over stored-precision decoders. */
  readonly decode: GPUComputePipeline;
  readonly #f32: { gemm: GPUComputePipeline; skinny: GPUComputePipeline };
  readonly #stored: { gemm: GPUComputePipeline; skinny: GPUComputePipeline };
  readonly #guarded: <T>(fn: () => Promise<T>) => Promise<T>;
  readonly #readBack: ReadBackPool;

  /** Compile the kernels for `device`. */
  constructor(device: GPUDevice, options: GpuKernelsOptions) {
    this.device = device;
    this.maxBinding = options.maxBinding;
    this.precision = options.precision;
    this.#guarded = options.guarded ?? ((fn) => fn());
    this.#readBack = new ReadBackPool(device);
    this.#f32 = {
      gemm: pipeline(device, gemmShader("f32")),
      skinny: pipeline(device, skinnyShader("f32")),
    };
    this.#stored = this.precision === "f32" ? this.#f32 : {
      gemm: pipeline(device, gemmShader(this.precision)),
      skinny: pipeline(device, skinnyShader(this.precision)),
    };
    this.select = pipeline(device, SELECT);
    this.decode = pipeline(device, decodeShader(this.precision));
    this.dummy = upload(device, new Float32Array(4));
  }

  /** Submit one recorded pass (inside the guard) and read back what it names. */
  run(record: Recorder): Promise<ArrayBuffer[]> {
    return this.#guarded(() => submit(this.device, record, { pool: this.#readBack }));
  }

  /** Record work to submit later, maybe more than once (inside the guard: buffers may fail). */
  async record(recorder: Recorder): Promise<Plan> {
    let plan: Plan | undefined;
    try {
      return await this.#guarded(() => Promise.resolve(plan = record(this.device, recorder)));
    } catch (e) {
      if (plan) destroyPlan(plan); // made, but the device reported an error
      throw e;
    }
  }

  /** Submit recorded work (inside the guard) and read back what it names. */
  play(plan: Plan): Promise<ArrayBuffer[]> {
    return this.#guarded(() => play(this.device, plan, { pool: this.#readBack }));
  }

  /** Read-backs so far, by path (read_back.ts). */
  readBacks(): ReadBackCounts {
    return this.#readBack.counts();
  }

  /** Record the GEMM of `args.a` against each column chunk of B, into C. */
  gemm(recording: Recording, args: GemmArgs): void {
    for (const chunk of args.chunks) {
      const n = chunk.span.end - chunk.span.start;
      const params = recording.temp(
        uniform(this.device, [
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
      const epilogue = args.epilogue;
      dispatch(recording, (args.weights ? this.#stored : this.#f32)[skinny ? "skinny" : "gemm"], {
        buffers: [
          args.a,
          chunk.buffer,
          args.c,
          params,
          epilogue?.bias ?? this.dummy,
          epilogue?.thr ?? this.dummy,
          epilogue?.bmag ?? this.dummy,
        ],
        groups: skinny
          ? [Math.ceil(n / SKINNY_COLUMNS), Math.ceil(args.m / SKINNY_ROWS)]
          : [Math.ceil(n / GEMM_TILE), Math.ceil(args.m / GEMM_TILE)],
      });
    }
  }

  /** a [m, k] @ b [k, n], or a @ b^T when `transposeB` (b is [n, k]), in f32. */
  async matmul(a: Matrix, b: Matrix, options?: { transposeB?: boolean }): Promise<Matrix> {
    const t = options?.transposeB ?? false;
    const inner = t ? b.cols : b.rows;
    const n = t ? b.rows : b.cols;
    if (a.cols !== inner) {
      throw new RangeError(`matmul: ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`);
    }
    let bt = b;
    if (t) {
      bt = matrix([inner, n]);
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < inner; k++) bt.data[k * n + i] = b.data[i * inner + k];
      }
    }
    const device = this.device;
    const chunks = spans(n, Math.floor(this.maxBinding / (inner * 4)), { multiple: GEMM_TILE })
      .map((span) => ({
        span,
        ld: span.end - span.start,
        buffer: upload(device, columnSlice(bt.data, { shape: bt, span })),
      }));
    const aBuf = upload(device, a.data);
    const c = storage(device, a.rows * n * 4);
    try {
      const [product] = await this.run((recording) => {
        this.gemm(recording, {
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
      return matrix([a.rows, n], new Float32Array(product));
    } finally {
      aBuf.destroy();
      c.destroy();
      for (const chunk of chunks) chunk.buffer.destroy();
    }
  }

  /** Free the kernels' own buffers (the device stays). */
  destroy(): void {
    this.dummy.destroy();
    this.#readBack.destroy();
  }
}
