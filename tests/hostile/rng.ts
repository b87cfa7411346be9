/**
 * The hostile stream's randomness: domain/random.ts's seeded generator with the two draws the
 * generators use (an integer below `n`, an element of a list).
 * @module
 */

import { seededRandom } from "../../domain/random.ts";

/** Uniform draws from one seeded stream. */
export interface Rng {
  /** Uniform on [0, 1). */
  readonly next: () => number;
  /** An integer in [0, n). */
  readonly int: (n: number) => number;
  /** An element of `xs`. */
  readonly pick: <T>(xs: readonly T[]) => T;
}

/** The draws of `seededRandom(seed)`. */
export function seededRng(seed: number): Rng {
  const next = seededRandom(seed);
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick };
}
