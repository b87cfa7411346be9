/**
 * Options several CLIs share, declared once: the compute backend and the training schedule.
 * @module
 */

import { BACKEND_CHOICES } from "../backends/select.ts";

/** `--backend`: the one backend selection (backends/select.ts), default wasm. */
export const BACKEND_OPTION = {
  type: "string",
  default: "wasm",
  choices: BACKEND_CHOICES,
  description: "Compute backend.",
} as const;

/** `--steps`, `--epochs`: how long a training run is (domain/train/schedule.ts sizes it). */
export const LENGTH_OPTIONS = {
  steps: {
    type: "integer",
    positive: true,
    description: "Most training steps (default: one pass over the data, at least 5000).",
  },
  epochs: { type: "number", positive: true, description: "Passes over the data (or --steps)." },
} as const;

/** `--lr`, `--early-stop`: the learning-rate rule and the plateau stop. */
export const SCHEDULE_OPTIONS = {
  lr: {
    type: "number",
    positive: true,
    description: "Peak learning rate (default: 2e-4 / sqrt(latents / 16384), sparsify's rule).",
  },
  "early-stop": {
    type: "boolean",
    default: true,
    description: "Start the final decay when the loss plateaus (on; --early-stop=false: off).",
  },
} as const;
