/**
 * Data with a known answer, to check that training converges: rows that are sparse
 * non-negative combinations of planted unit atoms (one view), or of shared concepts seen
 * through two random linear maps (two views), plus small noise; and the scores against the
 * planted truth (mean max cosine, the planted atoms' own FVU, FVU).
 * @module
 */

import { type Matrix, matrix } from "../sae/matrix.ts";
import { gaussian, seededRandom } from "../random.ts";
import type { RowSource } from "./trainer.ts";
import { fvu } from "./evaluate.ts";

/** Shape of planted data. */
export interface PlantedOptions {
  readonly d: number;
  /** Planted unit atoms (concepts). */
  readonly atoms: number;
  /** Atoms drawn per row (with replacement), each with a coefficient in [0.5, 1.5). */
  readonly active: number;
  readonly seed: number;
  /** Standard deviation of the added gaussian noise per coordinate (default 0.01). */
  readonly noise?: number;
}

/** An endless source of planted rows, with its atoms ([atoms, d], unit rows). */
export function plantedRows(options: PlantedOptions): RowSource & { atoms: Float32Array } {
  const rand = seededRandom(options.seed);
  const gauss = gaussian(rand);
  const { d } = options;
  const noise = options.noise ?? 0.01;
  const atoms = new Float32Array(options.atoms * d);
  for (let i = 0; i < options.atoms; i++) {
    let n = 0;
    for (let c = 0; c < d; c++) n += (atoms[i * d + c] = gauss()) ** 2;
    for (let c = 0; c < d; c++) atoms[i * d + c] /= Math.sqrt(n);
  }
  return {
    dIn: d,
    atoms,
    next(rows: number): Promise<Matrix> {
      const x = new Float32Array(rows * d);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < options.active; j++) {
          const a = Math.floor(rand() * options.atoms);
          const coef = 0.5 + rand();
          for (let c = 0; c < d; c++) x[r * d + c] += coef * atoms[a * d + c];
        }
        for (let c = 0; c < d; c++) x[r * d + c] += noise * gauss();
      }
      return Promise.resolve(matrix([rows, d], x));
    },
  };
}

/** Shape of two-view data. */
export interface TwoViewOptions {
  readonly concepts: number;
  /** Width of view a and of view b. */
  readonly dA: number;
  readonly dB: number;
  /** Concepts drawn per row (with replacement), coefficient in [0.5, 1.5). */
  readonly active: number;
  readonly seed: number;
  /** Noise standard deviation per coordinate, relative to a concept's per-coordinate size. */
  readonly noise?: number;
}

/**
 * Paired rows: the same sparse concepts mapped into two spaces by two random gaussian maps
 * (entries of variance 1/d, so a concept has norm about 1 in each view), plus noise.
 */
export function twoViewRows(
  options: TwoViewOptions,
): (rows: number) => { a: Matrix; b: Matrix } {
  const rand = seededRandom(options.seed);
  const gauss = gaussian(rand);
  const { concepts: C, dA, dB } = options;
  const mA = Float32Array.from({ length: C * dA }, () => gauss() / Math.sqrt(dA));
  const mB = Float32Array.from({ length: C * dB }, () => gauss() / Math.sqrt(dB));
  const noise = options.noise ?? 0.05;
  return (n) => {
    const a = new Float32Array(n * dA);
    const b = new Float32Array(n * dB);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < options.active; j++) {
        const c = Math.floor(rand() * C);
        const coef = 0.5 + rand();
        for (let i = 0; i < dA; i++) a[r * dA + i] += coef * mA[c * dA + i];
        for (let i = 0; i < dB; i++) b[r * dB + i] += coef * mB[c * dB + i];
      }
      for (let i = 0; i < dA; i++) a[r * dA + i] += (noise * gauss()) / Math.sqrt(dA);
      for (let i = 0; i < dB; i++) b[r * dB + i] += (noise * gauss()) / Math.sqrt(dB);
    }
    return { a: matrix([n, dA], a), b: matrix([n, dB], b) };
  };
}

/** For each planted atom ([n, d] rows), the best cosine with a decoder row; averaged. */
export function meanMaxCosine(
  atoms: Float32Array,
  wDec: Float32Array,
  options: { d: number },
): number {
  const { d } = options;
  const n = wDec.length / d;
  const norms = Array.from(
    { length: n },
    (_, i) => Math.hypot(...wDec.subarray(i * d, (i + 1) * d)),
  );
  let sum = 0;
  const count = atoms.length / d;
  for (let a = 0; a < count; a++) {
    let best = -1;
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += atoms[a * d + c] * wDec[i * d + c];
      best = Math.max(best, dot / norms[i]);
    }
    sum += best;
  }
  return sum / count;
}

/**
 * FVU of the planted atoms used as an SAE (W_enc = atoms^T, TopK k) on `x`: the naive baseline
 * a trained dictionary must beat.
 */
export function plantedBaselineFvu(x: Matrix, atoms: Float32Array, options: { k: number }): number {
  const { k } = options;
  const d = x.cols;
  const n = atoms.length / d;
  const recon = matrix([x.rows, d]);
  for (let r = 0; r < x.rows; r++) {
    const row = x.data.subarray(r * d, (r + 1) * d);
    const h = Array.from({ length: n }, (_, i) => {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += row[c] * atoms[i * d + c];
      return [dot, i];
    }).sort((p, q) => q[0] - p[0]).slice(0, k);
    for (const [v, i] of h) {
      if (v > 0) { for (let c = 0; c < d; c++) recon.data[r * d + c] += v * atoms[i * d + c]; }
    }
  }
  return fvu(recon, x);
}
