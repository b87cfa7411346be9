/**
 * Splitting matrices across GPU buffers: no binding may exceed the adapter's
 * maxStorageBufferBindingSize (128 MiB on llvmpipe), so large encoders are cut into column
 * ranges and decoders into row ranges, each its own buffer, and batches into row blocks whose
 * dense scores fit one binding.
 * @module
 */

/** A half-open range [start, end). */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/**
 * Cut `total` items into spans of at most `perSpan` items, each (but the last) a multiple of
 * `multiple`. Throws when even `multiple` items do not fit.
 */
export function spans(total: number, perSpan: number, options?: { multiple?: number }): Span[] {
  const multiple = options?.multiple ?? 1;
  const size = Math.floor(perSpan / multiple) * multiple;
  if (size < 1) throw new RangeError(`a span of ${multiple} items does not fit in ${perSpan}`);
  const out: Span[] = [];
  for (let start = 0; start < total; start += size) {
    out.push({ start, end: Math.min(total, start + size) });
  }
  return out;
}

/** Columns [start, end) of a row-major [rows, cols] matrix as a new row-major matrix. */
export function columnSlice(
  data: Float32Array,
  part: { shape: { rows: number; cols: number }; span: Span },
): Float32Array {
  const { shape, span } = part;
  const width = span.end - span.start;
  const out = new Float32Array(shape.rows * width);
  for (let r = 0; r < shape.rows; r++) {
    out.set(data.subarray(r * shape.cols + span.start, r * shape.cols + span.end), r * width);
  }
  return out;
}
