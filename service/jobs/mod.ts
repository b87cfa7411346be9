/**
 * Work off the request thread: a runner with live and research worker pools over a fixed
 * table of tasks.
 * @module
 */

export { JobRunner, type JobRunnerOptions, type JobStats, type RunOptions } from "./runner.ts";
export type {
  FeatureMapsArgs,
  HeatmapArgs,
  ImageMaps,
  TaskArgs,
  TaskName,
  TaskResult,
} from "./tasks.ts";
