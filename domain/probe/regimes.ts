/**
 * The four hard regimes of Kantamneni et al. (2025), as row selections over a dataset:
 * data scarcity (few balanced training rows), class imbalance (a chosen positive fraction),
 * label noise (a fraction of training labels flipped) and covariate shift (test on a shifted
 * set, handled by the caller), beside the standard setting (min(size - 100, 1024) balanced rows
 * in the paper, whose 100 are its test rows; with a separate test set, min(size, 1024)).
 * @module
 */

import { seededRandom, shuffled } from "../random.ts";

/**
 * Up to `n` training rows with the given positive fraction, seeded. When one class has too few
 * rows for `n` at that fraction, fewer rows are taken so the fraction holds (a balanced 1024
 * from 262 positives is 262 + 262, not 262 + 762).
 */
export function sampleRows(
  y: ArrayLike<number>,
  options: { n: number; positiveFraction?: number; seed?: number },
): number[] {
  const rand = seededRandom(options.seed ?? 0);
  const all = Array.from({ length: y.length }, (_, i) => i);
  const pos = shuffled(all.filter((i) => y[i] === 1), rand);
  const neg = shuffled(all.filter((i) => y[i] !== 1), rand);
  const fraction = options.positiveFraction ?? 0.5;
  const n = Math.max(
    2,
    Math.min(
      options.n,
      y.length,
      Math.floor(pos.length / fraction),
      Math.floor(neg.length / (1 - fraction)),
    ),
  );
  let wantPos = Math.round(n * fraction);
  wantPos = Math.max(1, Math.min(wantPos, pos.length, n - 1));
  const wantNeg = Math.min(n - wantPos, neg.length);
  return shuffled([...pos.slice(0, wantPos), ...neg.slice(0, wantNeg)], rand);
}

/** Labels with `fraction` of them flipped (seeded). */
export function flipLabels(
  y: Uint8Array,
  options: { fraction: number; seed?: number },
): Uint8Array {
  const rand = seededRandom(options.seed ?? 0);
  const out = y.slice();
  const order = shuffled(Array.from({ length: y.length }, (_, i) => i), rand);
  for (const i of order.slice(0, Math.round(options.fraction * y.length))) out[i] = 1 - out[i];
  return out;
}

/** One regime setting. */
export interface RegimeSetting {
  readonly regime: "standard" | "scarcity" | "imbalance" | "noise" | "shift";
  readonly setting: string;
  /** Training rows. */
  readonly n: number;
  readonly positiveFraction: number;
  readonly noise: number;
  /** Test on the shifted (out-of-distribution) set. */
  readonly shifted: boolean;
}

/**
 * The settings of each regime for a dataset of `size` rows, of which `options.testRows` (default
 * 100, the paper's) are held out for testing; 0 when the test set is separate.
 */
export function regimeSettings(
  size: number,
  options?: { quick?: boolean; hasShift?: boolean; testRows?: number },
): RegimeSetting[] {
  const standard = Math.max(2, Math.min(size - (options?.testRows ?? 100), 1024));
  const base = { n: standard, positiveFraction: 0.5, noise: 0, shifted: false };
  const out: RegimeSetting[] = [{ regime: "standard", setting: `n=${standard}`, ...base }];
  const scarce = options?.quick ? [4, 16, 64] : [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
  for (const n of scarce.filter((v) => v <= standard)) {
    out.push({ ...base, regime: "scarcity", setting: `n=${n}`, n });
  }
  const fractions = options?.quick ? [0.1, 0.9] : [0.05, 0.1, 0.25, 0.75, 0.9, 0.95];
  for (const f of fractions) {
    out.push({ ...base, regime: "imbalance", setting: `pos=${f}`, positiveFraction: f });
  }
  const noises = options?.quick ? [0.2] : [0.1, 0.2, 0.3, 0.4, 0.5];
  for (const p of noises) out.push({ ...base, regime: "noise", setting: `flip=${p}`, noise: p });
  if (options?.hasShift) out.push({ ...base, regime: "shift", setting: "ood", shifted: true });
  return out;
}
