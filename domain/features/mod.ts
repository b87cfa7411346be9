/**
 * What a dictionary's features mean: circuits, feature scores, model heads (logit lens),
 * heatmaps and vision patches.
 * @module
 */

export * from "./circuits.ts";
export * from "./feature_scores.ts";
export * from "./head.ts";
export * from "./heatmap.ts";
export * from "./vision.ts";
