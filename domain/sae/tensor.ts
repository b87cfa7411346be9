/**
 * A loaded tensor: its shape and its values widened to f32 (the only compute precision).
 * @module
 */

/** An n-dimensional array of f32 in row-major (C) order. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Number of elements a shape holds. */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
