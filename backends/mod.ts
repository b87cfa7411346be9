/**
 * The compute backends: the {@link Backend} interface every backend implements (reference,
 * wasm and webgpu each have their folder, entry `mod.ts`), the failover set, request batching,
 * and backend selection by name.
 * @module
 */

export * from "./backend.ts";
export * from "./backend_set.ts";
export * from "./batching.ts";
export * from "./select.ts";
