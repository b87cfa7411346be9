/**
 * The service machinery around the domain: configuration from the environment, the registry
 * that loads and lends dictionaries (on a generic lease cache), Prometheus metrics, object
 * stores and background jobs.
 * @module
 */

export * from "./config.ts";
export * from "./lease_cache.ts";
export * from "./line_writer.ts";
export * from "./prometheus.ts";
export * from "./registry.ts";
