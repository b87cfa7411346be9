/**
 * Linear probes on SAE codes and raw activations: logistic regression (L1 / L2), k-nearest
 * neighbours, PCA, standardization, feature selection, regimes, ROC AUC and cross-validation.
 * @module
 */

export * from "./knn.ts";
export * from "./logistic.ts";
export * from "./pca.ts";
export * from "./probes.ts";
export * from "./regimes.ts";
export * from "./roc_auc.ts";
export * from "./selection.ts";
export * from "./standardize.ts";
export * from "./validation.ts";
