/**
 * Dense row-major f32 matrices and sparse per-row codes: the values that cross the compute
 * backend interface.
 * @module
 */

/** A dense row-major matrix of f32. `data.length === rows * cols`. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

/** Sparse codes, one list per row, each sorted by value descending (ties: lower index first). */
export interface SparseRows {
  /** Width of the dense vectors these codes stand for (d_sae). */
  readonly width: number;
  readonly indices: Int32Array[];
  readonly values: Float32Array[];
}

/** A [rows, cols] matrix over `data` (checked for length), or of zeros. */
export function matrix(shape: readonly [number, number], data?: Float32Array): Matrix {
  const [rows, cols] = shape;
  const d = data ?? new Float32Array(rows * cols);
  if (d.length !== rows * cols) {
    throw new RangeError(`matrix ${rows}x${cols} needs ${rows * cols} values, got ${d.length}`);
  }
  return { rows, cols, data: d };
}

/** Row `r` of `m` as a view (no copy). */
export function row(m: Matrix, r: number): Float32Array {
  return m.data.subarray(r * m.cols, (r + 1) * m.cols);
}
