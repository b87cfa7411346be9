/**
 * Circuit discovery from a handful of examples (O'Neill & Bui 2024): one ReLU SAE over every
 * head's output vector, each (example, head) discretized to its argmax latent, heads scored by
 * the codes that occur on positive examples and never on negative ones (node score) and by such
 * code pairs between heads (edge score), both softmaxed over heads.
 * @module
 */

import type { Cancellation } from "../cancellation.ts";

import type { Backend } from "../../backends/backend.ts";
import { SaeError } from "../errors.ts";
import { type Matrix, matrix } from "../sae/matrix.ts";
import { rocAuc } from "../probe/roc_auc.ts";
import { type TrainResult, trainSae } from "../train/trainer.ts";
import { circuitWarnings } from "./circuit_checks.ts";
import {
  discoverOptionsProblem,
  type DiscoverSettings,
  LIBRARY_OPTION_NAMES,
  trainExamplesOf,
} from "./circuits_options.ts";

export {
  DEFAULT_TRAIN_EXAMPLES,
  discoverOptionsProblem,
  type DiscoverSettings,
  LIBRARY_OPTION_NAMES,
  type OptionNames,
  trainExamplesOf,
} from "./circuits_options.ts";

/** Head outputs [examples, heads, d_model] (row-major). */
export interface HeadOutputs {
  readonly examples: number;
  readonly heads: number;
  readonly dModel: number;
  readonly data: Float32Array;
}

/** Discovery options (the paper's defaults), the ground truth and cancellation. */
export interface DiscoverOptions extends DiscoverSettings {
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
 * paper's top n_heads^2 / 2 of ordered pairs). Pairs with equal counts are equal evidence, so
 * their order never matters: where the cut at half falls inside a group of equal counts, each
 * pair of that group is tallied by the share of the remaining places it would get on average
 * over every order of the group (places left / group size), and `top` (the pairs listed as top
 * edges) holds only the pairs ranked above the cut without such a tie. `pairs` lists every pair,
 * highest count first (then by head index, for display only).
 */
export function edgeScores(
  codes: Int32Array[],
  labels: ArrayLike<number>,
  options: { heads: number },
): {
  pairs: { heads: [number, number]; count: number }[];
  tally: number[];
  top: { heads: [number, number]; count: number }[];
} {
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
  const places = Math.ceil(pairs.length / 2);
  // The pairs wholly above the cut, then the group of equal counts the cut falls inside.
  let above = places;
  while (above > 0 && above < pairs.length && pairs[above - 1].count === pairs[above].count) {
    above--;
  }
  let end = above;
  if (above < places) {
    while (end < pairs.length && pairs[end].count === pairs[above].count) end++;
  }
  // Whole counts and places shared in the straddling group, kept apart so that equal tallies
  // come out as the same float: tally = (whole * group + shared * left) / group.
  const whole = new Array(heads).fill(0);
  const shared = new Array(heads).fill(0);
  for (let i = 0; i < end; i++) {
    const tallyOf = i < above ? whole : shared;
    tallyOf[pairs[i].heads[0]]++;
    tallyOf[pairs[i].heads[1]]++;
  }
  const group = end - above;
  const left = places - above;
  const tally = whole.map((w, h) => group ? (w * group + shared[h] * left) / group : w);
  return { pairs, tally, top: pairs.slice(0, above) };
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

/** How many times its first loss a run may end at before it counts as diverged. */
const DIVERGED_RISE = 1.5;

/** Whether every trained weight is finite (a diverged run's are not). */
function finiteParams(result: TrainResult): boolean {
  const p = result.params;
  return [p.wEnc, p.bEnc, p.wDec, p.bDec].every((a) => a.every(Number.isFinite));
}

/**
 * Train the SAE full batch on `rows`; an invalid SaeError naming the learning rate when training
 * diverges: a non-finite loss (training stops there), non-finite weights, or a last reported loss
 * above the first (full batch at a fixed L1 coefficient, a sound run only lowers it; a
 * too-high rate can park it finite but astronomical, e.g. 4e36 from 2.1). Codes from such weights
 * rank heads by noise, or tie them all when no latent fires. (Not a final FVU above 10, as
 * `deno task train` also checks: a few epochs of many latents over a small d_model leave the FVU
 * far above 10 at a sound rate, e.g. 117 after 20 epochs of 200 latents on d_model 8 at 1e-3.)
 */
async function trainDictionary(
  backend: Backend,
  rows: Matrix,
  options: DiscoverOptions,
): Promise<TrainResult> {
  const lr = options.lr ?? 1e-3;
  const epochs = options.epochs ?? 500;
  const diverged = (why: string) =>
    new SaeError(
      "invalid",
      `training diverged (${why}); lower ${options.optionNames?.lr ?? LIBRARY_OPTION_NAMES.lr} ` +
        `(it was ${lr.toExponential(2)})`,
      { info: { lr } },
    );
  // Full batch: every step sees all training rows.
  const source = { dIn: rows.cols, next: () => Promise.resolve(rows) };
  const result = await trainSae(source, {
    backend,
    architecture: "relu",
    latents: options.latents ?? 200,
    sparsityCoefficient: options.l1 ?? 0.02,
    steps: epochs,
    batch: rows.rows,
    lr,
    seed: options.seed ?? 0,
    warmupSteps: 0,
    decaySteps: 0,
    sparsityWarmupSteps: 0,
    signal: options.signal,
    // Every epoch below 2000 epochs, else about 1000 reports (the curve keeps each one).
    progressEvery: Math.max(1, Math.floor(epochs / 1000)),
    onProgress: (p) => {
      if (!Number.isFinite(p.loss)) {
        throw diverged(`loss ${p.loss} at epoch ${p.step} of ${epochs}`);
      }
    },
  });
  if (!finiteParams(result)) throw diverged("non-finite weights");
  const [first, last] = [result.curve[0], result.curve[result.curve.length - 1]];
  // A run that ends well above where it started diverged; a short run's small early rise (a
  // few epochs at a high lr) did not.
  if (last.loss > DIVERGED_RISE * first.loss) {
    throw diverged(
      `loss rose from ${first.loss.toPrecision(3)} at epoch ${first.step} to ` +
        `${last.loss.toPrecision(3)} at epoch ${last.step}`,
    );
  }
  return result;
}

/**
 * Discover the circuit: train the SAE on the training examples, code every example, score heads.
 * An invalid SaeError when the options break {@link discoverOptionsProblem}'s rules or training
 * diverges.
 */
export async function discoverCircuit(
  backend: Backend,
  x: HeadOutputs,
  options: DiscoverOptions & { labels: ArrayLike<number> },
): Promise<CircuitResult> {
  const problem = discoverOptionsProblem(x, options);
  if (problem) throw new SaeError("invalid", problem);
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round((now - t) * 10) / 10;
    t = now;
  };
  const train = trainingExamples(options.labels, trainExamplesOf(x.examples, options));
  const result = await trainDictionary(backend, rowsOf(x, train), options);
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
  const { pairs, tally, top } = edgeScores(codes, options.labels, { heads: x.heads });
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
  const maxCount = Math.max(1, pairs[0]?.count ?? 0); // pairs come highest count first
  return {
    heads,
    edges: top.map((p) => ({ heads: p.heads, score: p.count / maxCount })),
    rocAuc: auc,
    timingsMs: timings,
    warnings: circuitWarnings(codes, options.labels, { counts, groundTruthAuc: auc?.node }),
  };
}
