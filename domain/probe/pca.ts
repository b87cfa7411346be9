/**
 * Principal components: exact (Jacobi eigendecomposition of the smaller of X^T X and X X^T)
 * when min(n, d) <= 128, randomized subspace iteration beyond. Components are sign-normalized:
 * each one's largest-magnitude entry is positive.
 * @module
 */

import { type Matrix, matrix } from "../sae/matrix.ts";
import { seededRandom } from "../random.ts";

/** A fitted PCA. */
export interface Pca {
  readonly mean: Float64Array;
  /** [k, d] orthonormal rows. */
  readonly components: Float64Array[];
  /** Variance along each component (divided by n - 1, as scikit-learn). */
  readonly explainedVariance: number[];
  readonly explainedVarianceRatio: number[];
}

/** Eigen-decomposition of a symmetric matrix (cyclic Jacobi): values descending, vectors as rows. */
export function symmetricEigen(
  a: Float64Array,
  n: number,
): { values: number[]; vectors: Float64Array[] } {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q] ** 2;
    if (off < 1e-26) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p];
          const mkq = m[k * n + q];
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k];
          const mqk = m[q * n + k];
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j * n + j] - m[i * n + i]);
  return {
    values: order.map((i) => m[i * n + i]),
    vectors: order.map((i) => Float64Array.from({ length: n }, (_, k) => v[k * n + i])),
  };
}

function signNormalize(u: Float64Array): Float64Array {
  let best = 0;
  for (let i = 1; i < u.length; i++) if (Math.abs(u[i]) > Math.abs(u[best])) best = i;
  return u[best] < 0 ? u.map((x) => -x) : u;
}

function normalize(u: Float64Array): Float64Array {
  let s = 0;
  for (const x of u) s += x * x;
  const n = Math.sqrt(s) || 1;
  return u.map((x) => x / n);
}

/** Fit `components` principal components of rows `x`. */
export function fitPca(x: Matrix, options: { components: number; seed?: number }): Pca {
  const { rows: n, cols: d } = x;
  const k = Math.max(1, Math.min(options.components, n, d));
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x.data[i * d + j] / n;
  const c = Float64Array.from(x.data, (v, i) => v - mean[i % d]); // centered [n, d]
  let total = 0;
  for (const v of c) total += v * v;
  total /= n - 1;
  let components: Float64Array[];
  let variances: number[];
  if (Math.min(n, d) <= 128) {
    if (d <= n) {
      const cov = new Float64Array(d * d);
      for (let i = 0; i < n; i++) {
        for (let a = 0; a < d; a++) {
          const va = c[i * d + a];
          if (va === 0) continue;
          for (let b = a; b < d; b++) cov[a * d + b] += va * c[i * d + b];
        }
      }
      for (let a = 0; a < d; a++) {
        for (let b = a; b < d; b++) cov[b * d + a] = cov[a * d + b] /= n - 1;
      }
      const e = symmetricEigen(cov, d);
      components = e.vectors.slice(0, k);
      variances = e.values.slice(0, k);
    } else {
      // Gram matrix: eigenvectors u give components X^T u / ||X^T u||.
      const gram = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = i; j < n; j++) {
          let s = 0;
          for (let t = 0; t < d; t++) s += c[i * d + t] * c[j * d + t];
          gram[i * n + j] = gram[j * n + i] = s / (n - 1);
        }
      }
      const e = symmetricEigen(gram, n);
      components = e.vectors.slice(0, k).map((u) => {
        const comp = new Float64Array(d);
        for (let i = 0; i < n; i++) for (let t = 0; t < d; t++) comp[t] += u[i] * c[i * d + t];
        return normalize(comp);
      });
      variances = e.values.slice(0, k);
    }
  } else {
    // Randomized subspace iteration with oversampling, then Rayleigh-Ritz.
    const p = Math.min(d, k + 10);
    const uniform = seededRandom(options.seed ?? 1);
    const rand = () => uniform() - 0.5;
    let basis = Array.from({ length: p }, () => normalize(Float64Array.from({ length: d }, rand)));
    const applyCov = (v: Float64Array) => {
      const xv = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let t = 0;
        for (let j = 0; j < d; j++) t += c[i * d + j] * v[j];
        xv[i] = t;
      }
      const out = new Float64Array(d);
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[j] += c[i * d + j] * xv[i];
      return out.map((v2) => v2 / (n - 1));
    };
    // Modified Gram-Schmidt, twice ("twice is enough"); a vector with (almost) nothing left
    // outside the span so far (rank-deficient data) is replaced by a fresh random direction, so
    // the basis stays orthonormal.
    const orthonormalize = (vs: Float64Array[]) => {
      const out: Float64Array[] = [];
      const project = (u: Float64Array) => {
        for (let pass = 0; pass < 2; pass++) {
          for (const q of out) {
            let dot = 0;
            for (let j = 0; j < d; j++) dot += u[j] * q[j];
            for (let j = 0; j < d; j++) u[j] -= dot * q[j];
          }
        }
      };
      for (const v of vs) {
        let u = Float64Array.from(v);
        const before = Math.hypot(...u);
        project(u);
        for (let tries = 0; Math.hypot(...u) <= 1e-10 * (before || 1) && tries < 8; tries++) {
          u = Float64Array.from({ length: d }, rand);
          project(u);
        }
        out.push(normalize(u));
      }
      return out;
    };
    for (let it = 0; it < 30; it++) basis = orthonormalize(basis.map(applyCov));
    const projected = basis.map(applyCov);
    const small = new Float64Array(p * p);
    for (let a = 0; a < p; a++) {
      for (let b = 0; b < p; b++) {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += basis[a][j] * projected[b][j];
        small[a * p + b] = dot;
      }
    }
    const e = symmetricEigen(small, p);
    components = e.vectors.slice(0, k).map((u) => {
      const comp = new Float64Array(d);
      for (let a = 0; a < p; a++) for (let j = 0; j < d; j++) comp[j] += u[a] * basis[a][j];
      return normalize(comp);
    });
    variances = e.values.slice(0, k);
  }
  return {
    mean,
    components: components.map(signNormalize),
    explainedVariance: variances,
    explainedVarianceRatio: variances.map((v) => (total > 0 ? v / total : 0)),
  };
}

/** Project rows onto the components: [n, k]. */
export function pcaTransform(pca: Pca, x: Matrix): Matrix {
  const k = pca.components.length;
  const out = matrix([x.rows, k]);
  for (let i = 0; i < x.rows; i++) {
    for (let a = 0; a < k; a++) {
      let s = 0;
      for (let j = 0; j < x.cols; j++) {
        s += (x.data[i * x.cols + j] - pca.mean[j]) * pca.components[a][j];
      }
      out.data[i * k + a] = s;
    }
  }
  return out;
}
