/**
 * The `wasm` compute backend: AssemblyScript SIMD kernels (wasm/assembly/kernels.ts, built by
 * `deno task wasm`) on one shared WebAssembly.Memory, run by the calling thread plus workers
 * that split the latent dimension. Weights are re-packed once at `prepare` into the layouts
 * the kernels stream, in f32, bf16 or f16.
 * @module
 */

import type { Backend, EncodeOptions, MatrixArena, Prepared } from "../domain/backend.ts";
import type { SaeWeights } from "../domain/dictionary.ts";
import { type Matrix, matrix, row, type SparseRows } from "../domain/matrix.ts";
import { activate, sparsify } from "../domain/reference_backend.ts";
import { topK } from "../domain/top_k.ts";
import { SharedHeap } from "./heap.ts";
import {
  type Packed,
  packPanels,
  packRows,
  packVector,
  pad8,
  precisionBytes,
  type WeightPrecision,
} from "./pack.ts";
import { ACT, P, PARAM_WORDS, PREC, TN } from "./params.ts";
import { KernelPool } from "./pool.ts";

export type { WeightPrecision } from "./pack.ts";

/** Options of {@link wasmBackend}. */
export interface WasmBackendOptions {
  /** Threads taking part in a kernel call, the caller included (default: the machine's cores). */
  threads?: number;
  /** Stored weight precision (default f32). */
  weights?: WeightPrecision;
}

/** A backend that also owns threads: close it when done. */
export interface WasmBackend extends Backend {
  /** Threads per kernel call. */
  readonly threads: number;
  /** Stored weight precision. */
  readonly precision: WeightPrecision;
  /** Stop the workers and free the memory. */
  close(): void;
}

/** What `prepare` puts in the kernels' memory for one dictionary. */
interface WasmPrepared extends Prepared {
  readonly encoder: Packed;
  readonly decoder: Packed;
  /** Activation vectors (f32, padded): bias, threshold or magnitude scale, magnitude bias. */
  readonly bias: number;
  readonly thr: number;
  readonly bmag: number;
  readonly allocations: number[];
}

/** Stands in for matrices whose only copy now lives, re-packed, in the kernels' memory. */
const EMPTY: Matrix = matrix(0, 0);

/** Below this many multiply-adds a kernel call runs on the calling thread alone. */
const PARALLEL_MIN_WORK = 1 << 18;

let compiled: Promise<WebAssembly.Module> | undefined;

/** The compiled kernels (built by `deno task wasm`). */
function kernels(): Promise<WebAssembly.Module> {
  compiled ??= (async () => {
    const url = new URL("./build/kernels.wasm", import.meta.url);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await Deno.readFile(url);
    } catch (e) {
      throw new Error(`${url.pathname} is missing: run \`deno task wasm\` first`, { cause: e });
    }
    return await WebAssembly.compile(bytes);
  })();
  return compiled;
}

/** Threads to use when not told: the machine's logical cores. */
export function defaultThreads(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/** Start the WASM backend (compiles the kernels, starts `threads - 1` workers). */
export async function wasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const module = await kernels();
  const memory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
  const heap = new SharedHeap(memory, 1 << 20);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as {
    encode(pb: number): void;
    transpose_blocks(ptr: number, rows: number, cols: number, visited: number): void;
    compact_bf16(ptr: number, n: number): void;
    compact_f16(ptr: number, n: number): number;
    axpy_rows(
      out: number,
      n: number,
      w: number,
      ldw: number,
      idx: number,
      val: number,
      count: number,
      scale: number,
      prec: number,
    ): void;
  };
  const threads = Math.max(1, Math.floor(options.threads ?? defaultThreads()));
  const precision = options.weights ?? "f32";
  if (!(precision in PREC)) throw new RangeError(`unknown weight precision ${precision}`);
  const pool = await KernelPool.start(module, heap, { threads, encode: exports.encode });
  const prec = PREC[precision];

  /** Arena allocations not yet adopted by `prepare`: array -> address. */
  const arenaBlocks = new Map<Float32Array, number>();

  /** Take over an arena array as a block of the kernels' memory (null if it is not one). */
  function adopt(data: Float32Array): number | null {
    const ptr = arenaBlocks.get(data);
    if (ptr === undefined) return null;
    arenaBlocks.delete(data);
    return ptr;
  }

  /** Convert an adopted f32 block to the stored precision in place, releasing the spare half. */
  function compact(ptr: number, count: number): void {
    if (precision === "f32") return;
    if (precision === "bf16") exports.compact_bf16(ptr, count);
    else if (exports.compact_f16(ptr, count) > 0) {
      heap.free(ptr);
      throw new RangeError("a weight does not fit in f16; use SAESERVE_WEIGHTS=bf16 or f32");
    }
    heap.shrink(ptr, count * 2);
  }

  /** The encoder as panels of 8 columns: re-packed in place when the loader used the arena. */
  function prepareEncoder(wEnc: Matrix): Packed {
    const K = wEnc.rows;
    const N = wEnc.cols;
    const ptr = N % 8 === 0 ? adopt(wEnc.data) : null;
    if (ptr === null) return packPanels(heap, wEnc, precision);
    const visited = heap.alloc(Math.ceil((K * N) / 64));
    try {
      heap.i32(visited, Math.ceil((K * N) / 64 / 4) + 0).fill(0);
      // Row-major [K, N/8] blocks of 8 floats -> [N/8, K] blocks: the panel layout.
      exports.transpose_blocks(ptr, K, N / 8, visited);
    } finally {
      heap.free(visited);
    }
    compact(ptr, K * N);
    const esize = precisionBytes(precision);
    return { ptr, bytes: K * N * esize, ldb: 8 * esize, panelStride: K * 8 * esize };
  }

  /** The decoder row-major with rows padded to 8: adopted in place when the loader used the arena. */
  function prepareDecoder(wDec: Matrix): Packed {
    const ptr = wDec.cols % 8 === 0 ? adopt(wDec.data) : null;
    if (ptr === null) return packRows(heap, wDec, precision);
    compact(ptr, wDec.rows * wDec.cols);
    const esize = precisionBytes(precision);
    return {
      ptr,
      bytes: wDec.rows * wDec.cols * esize,
      ldb: wDec.cols * esize,
      panelStride: 8 * esize,
    };
  }

  /** Run `fn` with scratch blocks that are freed afterwards. */
  function withScratch<T>(fn: (alloc: (bytes: number) => number) => T): T {
    const blocks: number[] = [];
    try {
      return fn((bytes) => {
        const ptr = heap.alloc(bytes);
        blocks.push(ptr);
        return ptr;
      });
    } finally {
      for (const ptr of blocks) heap.free(ptr);
    }
  }

  /** Copy a matrix's rows into the kernels' memory. */
  function place(alloc: (bytes: number) => number, m: Matrix): number {
    const ptr = alloc(m.data.length * 4);
    heap.f32(ptr, m.data.length).set(m.data);
    return ptr;
  }

  /** Column slices [n0, n1) of width `n` (multiples of 8), one per thread that gets work. */
  function slices(n: number, work: number): [number, number][] {
    const panels = Math.ceil(n / 8);
    const parts = work < PARALLEL_MIN_WORK ? 1 : Math.min(threads, panels);
    const out: [number, number][] = [];
    for (let t = 0; t < parts; t++) {
      const p0 = Math.floor((panels * t) / parts);
      const p1 = Math.floor((panels * (t + 1)) / parts);
      if (p1 > p0) out.push([p0 * 8, p1 * 8]);
    }
    return out;
  }

  function paramBlock(
    alloc: (bytes: number) => number,
    fields: Partial<Record<keyof typeof P, number>>,
  ): number {
    const pb = alloc(PARAM_WORDS * 4);
    const words = heap.i32(pb, PARAM_WORDS);
    words.fill(0);
    for (const [key, value] of Object.entries(fields)) words[P[key as keyof typeof P]] = value;
    return pb;
  }

  /** Dense C [m, n] = A [m, k] @ B (a packed or row-major operand of n real columns). */
  function gemm(a: Matrix, b: Packed, n: number, operandPrec: number): Matrix {
    return withScratch((alloc) => {
      const npad = pad8(n);
      const aPtr = place(alloc, a);
      const cPtr = alloc(a.rows * npad * 4);
      const jobs = slices(n, a.rows * a.cols * n).map(([n0, n1]) =>
        paramBlock(alloc, {
          A: aPtr,
          LDA: a.cols,
          M: a.rows,
          B: b.ptr,
          K: a.cols,
          N0: n0,
          N1: n1,
          LDB: b.ldb,
          PSTRIDE: b.panelStride,
          PREC: operandPrec,
          ACT: ACT.dense,
          C: cPtr,
          LDC: npad,
          NREAL: n,
        })
      );
      pool.run(jobs);
      const c = heap.f32(cPtr, a.rows * npad);
      const out = matrix(a.rows, n);
      for (let r = 0; r < a.rows; r++) out.data.set(c.subarray(r * npad, r * npad + n), r * n);
      return out;
    });
  }

  /** Fused encode: selected codes per row, merged across threads. */
  function fusedEncode(p: WasmPrepared, s: Matrix, act: number, cap: number): SparseRows {
    const w = p.weights;
    return withScratch((alloc) => {
      const aPtr = place(alloc, s);
      const parts = slices(w.dSae, s.rows * s.cols * w.dSae);
      const outputs = parts.map(([n0, n1]) => {
        const stride = cap > 0 ? cap : n1 - n0;
        const vals = alloc(s.rows * stride * 4);
        const idx = alloc(s.rows * stride * 4);
        const cnt = alloc(s.rows * 4);
        const pb = paramBlock(alloc, {
          A: aPtr,
          LDA: s.cols,
          M: s.rows,
          B: p.encoder.ptr,
          K: s.cols,
          N0: n0,
          N1: n1,
          LDB: p.encoder.ldb,
          PSTRIDE: p.encoder.panelStride,
          PREC: prec,
          ACT: act,
          BIAS: p.bias,
          THR: p.thr,
          BMAG: p.bmag,
          CAP: cap,
          OVAL: vals,
          OIDX: idx,
          OCNT: cnt,
          SCRATCH: alloc(s.rows * TN * 4),
          OSTRIDE: stride,
          NREAL: w.dSae,
        });
        return { pb, vals, idx, cnt, stride };
      });
      pool.run(outputs.map((o) => o.pb));
      const indices: Int32Array[] = [];
      const values: Float32Array[] = [];
      for (let r = 0; r < s.rows; r++) {
        const cand: { v: number; i: number }[] = [];
        for (const o of outputs) {
          const n = heap.i32(o.cnt, s.rows)[r];
          const vs = heap.f32(o.vals + r * o.stride * 4, n);
          const is = heap.i32(o.idx + r * o.stride * 4, n);
          for (let j = 0; j < n; j++) cand.push({ v: vs[j], i: is[j] });
        }
        cand.sort((a, b) => b.v - a.v || a.i - b.i);
        const keep = cap > 0 ? Math.min(cap, cand.length) : cand.length;
        indices.push(Int32Array.from({ length: keep }, (_, j) => cand[j].i));
        values.push(Float32Array.from({ length: keep }, (_, j) => cand[j].v));
      }
      return { width: w.dSae, indices, values };
    });
  }

  /** out rows (padded) += scale_r * sum_j v_j W_dec[i_j], single-threaded (k rows per row). */
  function addDecoderRows(
    p: WasmPrepared,
    codes: SparseRows,
    init: (r: number, out: Float32Array) => void,
    scale: (r: number) => number,
  ): Matrix {
    const w = p.weights;
    const dPad = pad8(w.dIn);
    return withScratch((alloc) => {
      const rows = codes.indices.length;
      const out = matrix(rows, w.dIn);
      const outPtr = alloc(dPad * 4);
      const widest = codes.indices.reduce((m, ix) => Math.max(m, ix.length), 1);
      const idxPtr = alloc(widest * 4);
      const valPtr = alloc(widest * 4);
      for (let r = 0; r < rows; r++) {
        const ix = codes.indices[r];
        for (let j = 0; j < ix.length; j++) {
          if (!(ix[j] >= 0 && ix[j] < w.dSae)) {
            throw new RangeError(`feature index ${ix[j]} outside [0, ${w.dSae})`);
          }
        }
        const buf = heap.f32(outPtr, dPad);
        buf.fill(0);
        init(r, buf);
        heap.i32(idxPtr, ix.length).set(ix);
        heap.f32(valPtr, ix.length).set(codes.values[r]);
        exports.axpy_rows(
          outPtr,
          dPad,
          p.decoder.ptr,
          p.decoder.ldb,
          idxPtr,
          valPtr,
          ix.length,
          scale(r),
          prec,
        );
        out.data.set(heap.f32(outPtr, w.dIn), r * w.dIn);
      }
      return out;
    });
  }

  const backend: WasmBackend = {
    name: "wasm",
    threads,
    precision,
    arena(): MatrixArena {
      const mine = new Set<Float32Array>();
      return {
        alloc(length: number): Float32Array {
          const ptr = heap.alloc(length * 4);
          const data = heap.f32(ptr, length);
          data.fill(0);
          arenaBlocks.set(data, ptr);
          mine.add(data);
          return data;
        },
        dispose(): void {
          for (const data of mine) {
            const ptr = arenaBlocks.get(data);
            if (ptr !== undefined) {
              arenaBlocks.delete(data);
              heap.free(ptr);
            }
          }
          mine.clear();
        },
      };
    },
    prepare(input: SaeWeights): Promise<Prepared> {
      const allocations: number[] = [];
      try {
        const inArena = arenaBlocks.has(input.wEnc.data) || arenaBlocks.has(input.wDec.data);
        const encoder = prepareEncoder(input.wEnc);
        allocations.push(encoder.ptr);
        const decoder = prepareDecoder(input.wDec);
        allocations.push(decoder.ptr);
        // Matrices adopted from the arena now hold the kernels' layouts: keep no stale views.
        const weights: SaeWeights = inArena ? { ...input, wEnc: EMPTY, wDec: EMPTY } : input;
        const a = weights.activation;
        const vec = (v: Float32Array | undefined) => {
          if (!v) return 0;
          const ptr = packVector(heap, v);
          allocations.push(ptr);
          return ptr;
        };
        const bias = vec(a.kind === "gated" ? a.bGate : a.bEnc);
        const thr = vec(
          a.kind === "jumprelu" ? a.threshold : a.kind === "gated" ? a.magScale : undefined,
        );
        const bmag = vec(a.kind === "gated" ? a.bMag : undefined);
        // The kernels' copies replace what the registry counted for the f32 weights.
        const stored = encoder.bytes + decoder.bytes;
        const counted = input.wEnc.data.byteLength + input.wDec.data.byteLength;
        const prepared: WasmPrepared = {
          weights,
          extraBytes: stored - counted + 4 * 3 * pad8(weights.dSae),
          encoder,
          decoder,
          bias,
          thr,
          bmag,
          allocations,
        };
        return Promise.resolve(prepared);
      } catch (e) {
        for (const ptr of allocations) heap.free(ptr);
        return Promise.reject(e);
      }
    },
    release(prepared: Prepared): void {
      for (const ptr of (prepared as WasmPrepared).allocations) heap.free(ptr);
    },
    encode(prepared: Prepared, s: Matrix, options?: EncodeOptions): Promise<SparseRows> {
      const p = prepared as WasmPrepared;
      const a = p.weights.activation;
      const top = options?.top;
      try {
        switch (a.kind) {
          case "relu":
            return Promise.resolve(fusedEncode(p, s, ACT.relu, top ?? 0));
          case "jumprelu":
            return Promise.resolve(fusedEncode(p, s, ACT.jumprelu, top ?? 0));
          case "gated":
            return Promise.resolve(fusedEncode(p, s, ACT.gated, top ?? 0));
          case "topk":
            return Promise.resolve(fusedEncode(p, s, ACT.relu, Math.min(a.k, top ?? a.k)));
          case "groupmax": {
            // Per-group maxima need whole groups: dense pre-activations, then the activation.
            const pre = gemm(s, p.encoder, p.weights.dSae, prec);
            const indices: Int32Array[] = [];
            const values: Float32Array[] = [];
            for (let r = 0; r < s.rows; r++) {
              const chosen = sparsify(activate(a, row(pre, r)), top);
              indices.push(chosen.indices);
              values.push(chosen.values);
            }
            return Promise.resolve({ width: p.weights.dSae, indices, values });
          }
        }
      } catch (e) {
        return Promise.reject(e);
      }
    },
    decodeSparse(
      prepared: Prepared,
      codes: SparseRows,
      options?: { bias?: boolean },
    ): Promise<Matrix> {
      const p = prepared as WasmPrepared;
      const withBias = options?.bias !== false;
      try {
        return Promise.resolve(
          addDecoderRows(p, codes, (_, out) => withBias && out.set(p.weights.bDec), () => 1),
        );
      } catch (e) {
        return Promise.reject(e);
      }
    },
    decodeDense(prepared: Prepared, codes: Matrix, options?: { bias?: boolean }): Promise<Matrix> {
      const p = prepared as WasmPrepared;
      const w = p.weights;
      let nonzero = 0;
      for (let i = 0; i < codes.data.length; i++) if (codes.data[i] !== 0) nonzero++;
      try {
        if (nonzero <= codes.data.length / 8) {
          // Mostly zeros (SAE codes): sum the decoder rows of the non-zeros.
          const indices: Int32Array[] = [];
          const values: Float32Array[] = [];
          for (let r = 0; r < codes.rows; r++) {
            const chosen = topK(row(codes, r), codes.cols, { keep: (v) => v !== 0 });
            indices.push(chosen.indices);
            values.push(chosen.values);
          }
          return backend.decodeSparse(prepared, { width: w.dSae, indices, values }, options);
        }
        // Dense codes: a GEMM against the row-major decoder.
        const out = gemm(codes, p.decoder, w.dIn, prec);
        if (options?.bias !== false) {
          for (let r = 0; r < out.rows; r++) {
            const y = row(out, r);
            for (let c = 0; c < w.dIn; c++) y[c] += w.bDec[c];
          }
        }
        return Promise.resolve(out);
      } catch (e) {
        return Promise.reject(e);
      }
    },
    steer(
      prepared: Prepared,
      x: Matrix,
      deltas: SparseRows,
      options?: { rowScale?: Float32Array },
    ): Promise<Matrix> {
      const p = prepared as WasmPrepared;
      try {
        return Promise.resolve(
          addDecoderRows(
            p,
            deltas,
            (r, out) => out.set(row(x, r)),
            (r) => options?.rowScale?.[r] ?? 1,
          ),
        );
      } catch (e) {
        return Promise.reject(e);
      }
    },
    matmul(a: Matrix, b: Matrix, options?: { transposeB?: boolean }): Promise<Matrix> {
      const t = options?.transposeB ?? false;
      const inner = t ? b.cols : b.rows;
      const n = t ? b.rows : b.cols;
      if (a.cols !== inner) {
        return Promise.reject(new RangeError(`matmul: ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`));
      }
      // B as a row-major [inner, n] operand in f32 (transposed here when asked).
      let bt = b;
      if (t) {
        bt = matrix(inner, n);
        for (let i = 0; i < n; i++) {
          for (let k = 0; k < inner; k++) bt.data[k * n + i] = b.data[i * inner + k];
        }
      }
      const operand = packRows(heap, bt, "f32");
      try {
        return Promise.resolve(gemm(a, operand, n, PREC.f32));
      } finally {
        heap.free(operand.ptr);
      }
    },
    topK(m: Matrix, k: number): Promise<SparseRows> {
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
      pool.close();
    },
  };
  return backend;
}

/** Bytes per stored weight element (for memory accounting). */
export function weightElementBytes(precision: WeightPrecision): number {
  return precisionBytes(precision);
}
