/**
 * How the kernel calls of the WASM backend (wasm/gemm.ts, wasm/decoder_rows.ts,
 * wasm/relayout.ts) run on the pool's workers: the call's context, parameter blocks, and
 * rounds posted until every job has finished. Kernels pass a checkpoint every `checkpointWork`
 * multiply-adds or so; there they stop when the pool wants the workers for live work or the
 * call is aborted, and are posted again to continue (wasm/rounds.ts cuts the work). The calling
 * thread only copies operands in and results out, between rounds.
 * @module
 */

import type { SharedHeap } from "./heap.ts";
import { COMMON, PARAM_WORDS } from "./params.ts";

/** Below this much work (multiply-adds) a call uses one worker. */
export const PARALLEL_MIN_WORK = 1 << 18;
/** Most scratch bytes per block of rows. */
export const MAX_BLOCK_BYTES = 64 << 20;
/** Most rows per block of an encode or GEMM. */
export const MAX_BLOCK_ROWS = 256;
/** Up to this many candidates in a block, the last worker of the round merges them. */
export const MERGE_AFTER_MAX = 1 << 16;

/** What one kernel call works with. */
export interface CallContext {
  /** The kernels' memory. */
  readonly heap: SharedHeap;
  /** Workers, hence jobs per round at most. */
  readonly threads: number;
  /** Work (multiply-adds) per worker between two checkpoints of a GEMM. */
  readonly checkpointWork: number;
  /**
   * Run one round of jobs (parameter-block addresses, 0 for none) and, once they all finished,
   * `then`; resolves to their results and `then`'s (-1: not run).
   */
  round(jobs: readonly number[], then?: number): Promise<Int32Array>;
  /** Allocate scratch, freed when the call ends. */
  alloc(bytes: number): number;
}

/** Word offsets of a parameter block's operation-specific words, by name. */
export type Layout = Readonly<Record<string, number>>;

/** A parameter block in the kernels' memory, laid out as `L`. */
export interface ParamBlock<L extends Layout> {
  /** Its address (what a round posts). */
  readonly pb: number;
  /** Set the named words; returns the address. */
  set(fields: Partial<Record<keyof L, number>>): number;
  /** The named word. */
  get(field: keyof L): number;
}

/** Allocate a zeroed parameter block for operation `options.op`, its words laid out as `layout`. */
export function paramBlock<L extends Layout>(
  ctx: CallContext,
  layout: L,
  options: { op: number },
): ParamBlock<L> {
  const pb = ctx.alloc(PARAM_WORDS * 4);
  const heap = ctx.heap;
  const words = () => heap.i32(pb, PARAM_WORDS);
  words().fill(0);
  words()[COMMON.OP] = options.op;
  return {
    pb,
    set(fields: Partial<Record<keyof L, number>>): number {
      const w = words();
      for (const key in fields) w[layout[key]] = fields[key]!;
      return pb;
    },
    get: (field: keyof L): number => words()[layout[field]],
  };
}

/** Workers to split `work` multiply-adds over `n` columns between (one below the minimum). */
export function parallelParts(ctx: CallContext, options: { work: number; n: number }): number {
  return options.work < PARALLEL_MIN_WORK ? 1 : Math.min(ctx.threads, Math.ceil(options.n / 8));
}

/**
 * Post `jobs` until each has finished, then `options.then`: a job that stopped at a checkpoint
 * (the pool wanted the workers for live work) is posted again, after queueing for another
 * turn. `then` goes with the round, for the last worker to run, until it has run.
 */
export async function runToEnd(
  ctx: CallContext,
  jobs: readonly number[],
  options?: { then?: number },
): Promise<void> {
  const busy = (list: readonly number[]) => list.some((job) => job !== 0);
  let pending = jobs;
  let follow = options?.then ?? 0;
  while (busy(pending) || follow !== 0) {
    if (!busy(pending)) {
      // Every job is done and the follow-up has not run (or stopped): run it as a job.
      pending = [follow];
      follow = 0;
    }
    const results = await ctx.round(pending, follow);
    const after = results[pending.length];
    pending = pending.map((job, i) => (job !== 0 && results[i] === 1 ? job : 0));
    if (after === 0) follow = 0;
  }
}
