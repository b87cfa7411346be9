/**
 * The one precision type: how a dictionary's weights are held for compute (`SAESERVE_WEIGHTS`,
 * the backends' packed layouts, the benchmarks' cases).
 * @module
 */

/**
 * Weight precision: f32 as stored, compacted to bf16 / f16, or "int8": the encoder also
 * quantized to int8 for candidate selection, the returned values rescored in f32 (the WASM
 * backend; the others fall back to f32).
 */
export type Precision = "f32" | "bf16" | "f16" | "int8";

/** The precisions weights are streamed in (int8 streams its f32 copies). */
export type StreamPrecision = Exclude<Precision, "int8">;

/** The 16-bit precisions, packed two per 32-bit word. */
export type HalfPrecision = Exclude<StreamPrecision, "f32">;

/** Every precision, in a stable order. */
export const PRECISIONS: readonly Precision[] = ["f32", "bf16", "f16", "int8"];

/** True when `value` names a precision. */
export function isPrecision(value: unknown): value is Precision {
  return value === "f32" || value === "bf16" || value === "f16" || value === "int8";
}
