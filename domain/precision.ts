/**
 * The one precision type: how a dictionary's weights are held for compute (`SAESERVE_WEIGHTS`,
 * the backends' packed layouts, the benchmarks' cases).
 * @module
 */

/** Weight precision: f32 as stored, or compacted to bf16 / f16. */
export type Precision = "f32" | "bf16" | "f16";

/** Every precision, in a stable order. */
export const PRECISIONS: readonly Precision[] = ["f32", "bf16", "f16"];

/** True when `value` names a precision. */
export function isPrecision(value: unknown): value is Precision {
  return value === "f32" || value === "bf16" || value === "f16";
}
