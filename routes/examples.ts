/**
 * Example data for the route table: requests that succeed against the embedded store
 * (dictionaries/, written by scripts/make_demo.py). /docs pre-fills them.
 * @module
 */

/** The embedded store's dictionaries and their sizes. */
export const DEMO = {
  /** SAELens TopK (k 8) with the model head demo-head, before the final norm. */
  topk: "demo-topk",
  jumprelu: "demo-jumprelu",
  sparsify: "demo-sparsify",
  /** An aligned (SPARC) dictionary with streams a (d 6), b (d 5), c (d 4), 12 latents. */
  aligned: "demo-aligned",
  dIn: 64,
  dSae: 256,
  /** Vocabulary of demo-head. */
  vocab: 128,
} as const;

/** Deterministic example activations: `rows` x `cols` (default d_in 64), three decimals. */
export function demoRows(rows: number, options?: { cols?: number; seed?: number }): number[][] {
  const cols = options?.cols ?? DEMO.dIn;
  const seed = options?.seed ?? 0;
  return Array.from(
    { length: rows },
    (_, r) =>
      Array.from(
        { length: cols },
        (_, c) => Math.round(Math.sin((c + 1) * (r + seed + 1) * 0.7) * 1000) / 1000,
      ),
  );
}
