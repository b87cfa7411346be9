/**
 * Defaults that converge without tuning: the learning rate from the dictionary size (sparsify's
 * rule), the run's length from the data, and an early stop on a plateau that ends the run with
 * the final learning-rate decay instead of cutting it off.
 *
 * The run: linear warmup, constant rate, then a linear decay to zero over the last part. A
 * {@link RunSchedule} watches the training loss in windows of steps; when the best window mean
 * has not improved by `tolerance` (relative) for `patience` windows, the run is shortened so the
 * decay starts now (its length: `decayFraction` of the steps done, at least one window).
 * @module
 */

/** The dictionary size sparsify's learning-rate rule is anchored at. */
export const SPARSIFY_LATENTS = 16384;

/** sparsify's learning rate for `latents` latents: 2e-4 / sqrt(latents / 16384). */
export function defaultLr(latents: number): number {
  return 2e-4 / Math.sqrt(latents / SPARSIFY_LATENTS);
}

/** How long a run is when the user gives neither steps nor epochs. */
export interface RunLengthOptions {
  /** Rows per step. */
  readonly batch: number;
  /** Explicit steps (wins over everything). */
  readonly steps?: number;
  /** Passes over the data (used when `steps` is absent). */
  readonly epochs?: number;
  /** Fewest steps of a default run (default 5000): small data is passed over many times. */
  readonly minSteps?: number;
}

/**
 * Steps of a run over `rows` rows: `steps` if given, else `epochs` passes, else one pass but at
 * least `minSteps` (a plateau usually ends the run well before).
 */
export function runSteps(rows: number, options: RunLengthOptions): number {
  if (options.steps !== undefined) return Math.max(1, Math.round(options.steps));
  const perEpoch = rows / options.batch;
  if (options.epochs !== undefined) return Math.max(1, Math.round(options.epochs * perEpoch));
  return Math.max(Math.ceil(perEpoch), options.minSteps ?? 5000);
}

/**
 * Rows per step for `rows` rows of data: `preferred`, but at most 1/32 of the data, at least
 * 64, and never more rows than there are (a batch would repeat rows), which comes first.
 */
export function defaultBatch(rows: number, preferred: number): number {
  let cap = 64;
  while (cap * 2 <= rows / 32) cap *= 2;
  return Math.max(1, Math.min(preferred, cap, Math.floor(rows)));
}

/** When a run counts as converged. */
export interface PlateauOptions {
  /** Steps per window of averaged loss (default: 2% of the steps, 20 to 250). */
  readonly window?: number;
  /** Windows without enough improvement before the run winds down (default 3). */
  readonly patience?: number;
  /** Relative improvement of the best window mean that counts (default 0.01). */
  readonly tolerance?: number;
}

/** Options of a {@link RunSchedule}. */
export interface RunScheduleOptions {
  readonly lr: number;
  /** Planned steps (the most the run takes). */
  readonly steps: number;
  /** Warmup steps (default 5% of steps). */
  readonly warmup?: number;
  /** Final decay steps (default 20% of steps). */
  readonly decay?: number;
  /** Stop early on a plateau (null or absent: never). */
  readonly plateau?: PlateauOptions | null;
  /** Decay length after a plateau, as a fraction of the steps done (default 0.2). */
  readonly decayFraction?: number;
}

/** The learning rate per step and the run's end, which a plateau can bring forward. */
export class RunSchedule {
  readonly lr: number;
  readonly planned: number;
  readonly warmup: number;
  #end: number;
  #decay: number;
  readonly #window: number;
  readonly #patience: number;
  readonly #tolerance: number;
  readonly #watch: boolean;
  readonly #fraction: number;
  #sum = 0;
  #count = 0;
  #best = Infinity;
  #stale = 0;
  #plateauAt: number | null = null;

  /** A schedule of `options.steps` steps at peak rate `options.lr`. */
  constructor(options: RunScheduleOptions) {
    this.lr = options.lr;
    this.planned = this.#end = options.steps;
    this.warmup = options.warmup ?? Math.floor(options.steps * 0.05);
    this.#decay = options.decay ?? Math.floor(options.steps * 0.2);
    const p = options.plateau;
    this.#watch = p !== undefined && p !== null;
    this.#window = p?.window ?? Math.min(250, Math.max(20, Math.round(options.steps / 50)));
    this.#patience = p?.patience ?? 3;
    this.#tolerance = p?.tolerance ?? 0.01;
    this.#fraction = options.decayFraction ?? 0.2;
  }

  /** Steps the run takes (the planned steps, or fewer after a plateau). */
  get steps(): number {
    return this.#end;
  }

  /** The step (1-based count) at which a plateau was seen, or null. */
  get plateauAt(): number | null {
    return this.#plateauAt;
  }

  /** The learning rate at `step` (0-based): warmup, constant, linear decay to zero. */
  rateAt(step: number): number {
    const warm = this.warmup > 0 ? Math.min(1, (step + 1) / this.warmup) : 1;
    const decayStart = this.#end - this.#decay;
    const decay = this.#decay > 0 && step >= decayStart
      ? Math.max(0, (this.#end - step) / this.#decay)
      : 1;
    return this.lr * warm * decay;
  }

  /** Record the loss of `step` (0-based); on a plateau the decay starts at the next step. */
  observe(step: number, loss: number): void {
    if (!this.#watch || this.#plateauAt !== null || step < this.warmup) return;
    if (step + 1 >= this.#end - this.#decay) return; // already decaying
    this.#sum += loss;
    if (++this.#count < this.#window) return;
    const mean = this.#sum / this.#count;
    this.#sum = 0;
    this.#count = 0;
    if (mean < this.#best * (1 - this.#tolerance)) {
      this.#best = mean;
      this.#stale = 0;
      return;
    }
    this.#best = Math.min(this.#best, mean);
    if (++this.#stale < this.#patience) return;
    this.#plateauAt = step + 1;
    const decay = Math.max(this.#window, Math.round((step + 1) * this.#fraction));
    if (step + 1 + decay < this.#end) {
      this.#end = step + 1 + decay;
      this.#decay = decay;
    }
  }
}
