/**
 * Training sparse autoencoders: the objective and its gradients, Adam, the single- and
 * multi-stream trainers, defaults that converge (learning rate, run length, plateau stop),
 * training rows from any object source, evaluation, planted data, and export to SAELens files.
 * @module
 */

export * from "./adam.ts";
export * from "./aligned_trainer.ts";
export * from "./evaluate.ts";
export * from "./export.ts";
export * from "./objective.ts";
export * from "./planted.ts";
export * from "./rows.ts";
export * from "./schedule.ts";
export * from "./trainer.ts";
