/**
 * Training sparse autoencoders: the objective and its gradients, Adam, the single- and
 * multi-stream trainers, training rows from any object source, and export to SAELens files.
 * @module
 */

export * from "./adam.ts";
export * from "./aligned_trainer.ts";
export * from "./export.ts";
export * from "./objective.ts";
export * from "./rows.ts";
export * from "./trainer.ts";
