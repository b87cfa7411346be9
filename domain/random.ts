/**
 * The one seeded random generator: mulberry32 (32-bit state, uniform on [0, 1)), with the
 * helpers built on it. Used by the domain (training init, probe folds, randomized PCA), the tests
 * and the benchmarks, so a seed means the same stream everywhere.
 * @module
 */

/** A uniform generator on [0, 1). */
export type Random = () => number;

/** mulberry32 seeded with `seed` (any integer; 0 is a valid seed). */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal generator (Box-Muller) drawing from `rand`. */
export function gaussian(rand: Random): Random {
  return () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}

/** A shuffled copy of `items` (Fisher-Yates driven by `rand`). */
export function shuffled<T>(items: readonly T[], rand: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** `n` seeded values uniform on [-scale, scale), as f32 (test and benchmark inputs). */
export function uniformArray(
  n: number,
  seed: number,
  options?: { scale?: number },
): Float32Array {
  const scale = options?.scale ?? 1;
  const rand = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 2 - 1) * scale;
  return out;
}

/** `n` seeded standard normal values as f32. */
export function gaussianArray(n: number, seed: number): Float32Array {
  const next = gaussian(seededRandom(seed));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = next();
  return out;
}
