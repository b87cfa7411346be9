/**
 * Circuit discovery from a handful of examples (O'Neill & Bui 2024): one ReLU SAE over every
 * head's output vector, each (example, head) discretized to its argmax latent, heads scored by
 * the codes that occur on positive examples and never on negative ones (node score) and by such
 * code pairs between heads (edge score), both softmaxed over heads.
 * @module
 */

import type { Cancellation } from "../cancellation.ts";

import type { Backend } from "../../backends/backend.ts";
import { type Matrix, matrix } from "../sae/matrix.ts";
import { rocAuc } from "../probe/roc_auc.ts";
import { trainSae } from "../train/trainer.ts";
import { circuitWarnings } from "./circuit_checks.ts";

/** Head outputs [examples, heads, d_model] (row-major). */
export interface HeadOutputs {
  readonly examples: number;
  readonly heads: number;
  readonly dModel: number;
  readonly data: Float32Array;
}

/** Discovery options (the paper's defaults). */
export interface DiscoverOptions {
  readonly latents?: number;
  readonly l1?: number;
  readonly epochs?: number;
  readonly lr?: number;
  /** Examples the SAE trains on (half positive, half negative where possible). */
  readonly trainExamples?: number;
  readonly seed?: number;
  /** Indices of the known circuit heads, for ROC AUC. */
  readonly groundTruth?: readonly number[];
  /** Polled every training step: stop when the work is abandoned. */
  readonly signal?: Cancellation;
}

/** The answer. */
export interface CircuitResult {
  /** Heads by node score, best first. */
  readonly heads: {
    head: number;
    nodeScore: number;
    edgeScore: number;
    positiveOnlyCodes: number;
  }[];
  readonly edges: { heads: [number, number]; score: number }[];
  readonly rocAuc?: { node: number; edge: number };
  readonly timingsMs: Record<string, number>;
  /**
   * Why the ranking may not be trusted (unbalanced or unpaired labels, no head separating; see
   * circuit_checks.ts), one sentence each; empty when the data looks as the method expects.
   */
  readonly warnings: string[];
}

/** A circuit result as the HTTP answer and the CLI's circuit.json write it (snake_case). */
export interface CircuitDocument {
  readonly heads: {
    head: number;
    name: string;
    node_score: number;
    edge_score: number;
    positive_only_codes: number;
  }[];
  readonly edges: { heads: [number, number]; score: number }[];
  readonly roc_auc?: { node: number; edge: number };
  readonly timings_ms: Record<string, number>;
  readonly warnings: string[];
}

/** `result` as a {@link CircuitDocument}; heads are named from `options.names` ("head N" else). */
export function circuitDocument(
  result: CircuitResult,
  options?: { names?: readonly string[] },
): CircuitDocument {
  return {
    heads: result.heads.map((h) => ({
      head: h.head,
      name: options?.names?.[h.head] ?? `head ${h.head}`,
      node_score: h.nodeScore,
      edge_score: h.edgeScore,
      positive_only_codes: h.positiveOnlyCodes,
    })),
    edges: result.edges,
    roc_auc: result.rocAuc,
    timings_ms: result.timingsMs,
    warnings: [...result.warnings],
  };
}

function softmax(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Per head: how many distinct codes occur on positives and never on negatives. */
export function nodeCounts(
  codes: Int32Array[],
  labels: ArrayLike<number>,
  options: { heads: number },
): number[] {
  const { heads } = options;
  return Array.from({ length: heads }, (_, h) => {
    const pos = new Set<number>();
    const neg = new Set<number>();
    codes.forEach((row, e) => (labels[e] === 1 ? pos : neg).add(row[h]));
    let n = 0;
    for (const c of pos) if (!neg.has(c)) n++;
    return n;
  });
}

/**
 * Edge scores: per head pair, the distinct (code_a, code_b) pairs seen on positives and never on
 * negatives; pairs ranked by that count; heads tallied over the top half of the pairs (the
 * paper's top n_heads^2 / 2 of ordered pairs).
 */
export function edgeScores(
  codes: Int32Array[],
  labels: ArrayLike<number>,
  options: { heads: number },
): { pairs: { heads: [number, number]; count: number }[]; tally: number[] } {
  const { heads } = options;
  const pairs: { heads: [number, number]; count: number }[] = [];
  for (let a = 0; a < heads; a++) {
    for (let b = a + 1; b < heads; b++) {
      const pos = new Set<string>();
      const neg = new Set<string>();
      codes.forEach((row, e) => (labels[e] === 1 ? pos : neg).add(`${row[a]},${row[b]}`));
      let n = 0;
      for (const p of pos) if (!neg.has(p)) n++;
      pairs.push({ heads: [a, b], count: n });
    }
  }
  pairs.sort((p, q) => q.count - p.count || p.heads[0] - q.heads[0] || p.heads[1] - q.heads[1]);
  const tally = new Array(heads).fill(0);
  for (const p of pairs.slice(0, Math.ceil(pairs.length / 2))) {
    tally[p.heads[0]]++;
    tally[p.heads[1]]++;
  }
  return { pairs, tally };
}

/** Examples used for training: up to n, alternating positives and negatives (seeded order kept). */
function trainingExamples(labels: ArrayLike<number>, n: number): number[] {
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < labels.length; i++) (labels[i] === 1 ? pos : neg).push(i);
  const out: number[] = [];
  for (let i = 0; out.length < n && (i < pos.length || i < neg.length); i++) {
    if (i < pos.length) out.push(pos[i]);
    if (out.length < n && i < neg.length) out.push(neg[i]);
  }
  return out;
}

/** Rows [examples * heads, d_model] of the chosen examples. */
function rowsOf(x: HeadOutputs, examples: number[]): Matrix {
  const per = x.heads * x.dModel;
  const out = matrix([examples.length * x.heads, x.dModel]);
  examples.forEach((e, t) => out.data.set(x.data.subarray(e * per, (e + 1) * per), t * per));
  return out;
}

/** Discover the circuit: train the SAE on the training examples, code every example, score heads. */
export async function discoverCircuit(
  backend: Backend,
  x: HeadOutputs,
  options: DiscoverOptions & { labels: ArrayLike<number> },
): Promise<CircuitResult> {
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round((now - t) * 10) / 10;
    t = now;
  };
  const train = trainingExamples(options.labels, options.trainExamples ?? 10);
  const trainRows = rowsOf(x, train);
  // Full batch: every step sees all training rows.
  const source = { dIn: x.dModel, next: () => Promise.resolve(trainRows) };
  const result = await trainSae(source, {
    backend,
    architecture: "relu",
    latents: options.latents ?? 200,
    sparsityCoefficient: options.l1 ?? 0.02,
    steps: options.epochs ?? 500,
    batch: trainRows.rows,
    lr: options.lr ?? 1e-3,
    seed: options.seed ?? 0,
    warmupSteps: 0,
    decaySteps: 0,
    sparsityWarmupSteps: 0,
    signal: options.signal,
  });
  lap("train");
  // Codes: argmax latent of each (example, head) vector (-1 when no latent fires).
  const all = rowsOf(x, Array.from({ length: x.examples }, (_, e) => e));
  const pre = await backend.matmul(
    matrix([all.rows, x.dModel], all.data.map((v, i) => v - result.params.bDec[i % x.dModel])),
    matrix([x.dModel, result.params.dSae], result.params.wEnc),
  );
  const n = result.params.dSae;
  const codes: Int32Array[] = Array.from({ length: x.examples }, () => new Int32Array(x.heads));
  for (let r = 0; r < all.rows; r++) {
    let best = -1;
    let bestValue = 0;
    for (let i = 0; i < n; i++) {
      const v = pre.data[r * n + i] + result.params.bEnc[i];
      if (v > bestValue) {
        bestValue = v;
        best = i;
      }
    }
    codes[Math.floor(r / x.heads)][r % x.heads] = best;
  }
  lap("encode");
  const counts = nodeCounts(codes, options.labels, { heads: x.heads });
  const nodes = softmax(counts);
  const { pairs, tally } = edgeScores(codes, options.labels, { heads: x.heads });
  const edges = softmax(tally);
  lap("score");
  const heads = counts.map((c, h) => ({
    head: h,
    nodeScore: nodes[h],
    edgeScore: edges[h],
    positiveOnlyCodes: c,
  }))
    .sort((a, b) => b.nodeScore - a.nodeScore || a.head - b.head);
  let auc: CircuitResult["rocAuc"];
  if (options.groundTruth?.length) {
    const truth = Array.from(
      { length: x.heads },
      (_, h) => (options.groundTruth!.includes(h) ? 1 : 0),
    );
    auc = { node: rocAuc(nodes, truth), edge: rocAuc(edges, truth) };
  }
  const top = pairs.slice(0, Math.ceil(pairs.length / 2));
  const maxCount = Math.max(1, ...top.map((p) => p.count));
  return {
    heads,
    edges: top.map((p) => ({ heads: p.heads, score: p.count / maxCount })),
    rocAuc: auc,
    timingsMs: timings,
    warnings: circuitWarnings(codes, options.labels, { counts, groundTruthAuc: auc?.node }),
  };
}
