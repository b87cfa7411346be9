/**
 * The tunable options of circuit discovery and the rules every caller applies to them (the CLI
 * before any work, the HTTP API before queuing the job, discoverCircuit itself), with messages
 * that name each option as the caller does (`--train-examples`, `options.train_examples`).
 * @module
 */

/**
 * What a caller calls the tunable options in its messages: the CLI `--train-examples`, the HTTP
 * API `options.train_examples`. Plain strings, so the options can cross to a job worker.
 */
export interface OptionNames {
  readonly latents: string;
  readonly l1: string;
  readonly epochs: string;
  readonly lr: string;
  readonly trainExamples: string;
}

/** Option names as the library calls them (the defaults of {@link OptionNames}). */
export const LIBRARY_OPTION_NAMES: OptionNames = {
  latents: "latents",
  l1: "l1",
  epochs: "epochs",
  lr: "lr",
  trainExamples: "trainExamples",
};

/** The paper's number of training examples: the default, capped at the examples given. */
export const DEFAULT_TRAIN_EXAMPLES = 10;

/** The tunable options of a discovery (absent: the paper's defaults). */
export interface DiscoverSettings {
  /** SAE latents (default 200; at least 2). */
  readonly latents?: number;
  /** L1 sparsity coefficient (default 0.02; >= 0). */
  readonly l1?: number;
  /** Full-batch training epochs (default 500). */
  readonly epochs?: number;
  /** Adam learning rate (default 1e-3). */
  readonly lr?: number;
  /**
   * Examples the SAE trains on, half positive and half negative where possible: from 2 up to the
   * examples given (default {@link DEFAULT_TRAIN_EXAMPLES}, or every example when fewer).
   */
  readonly trainExamples?: number;
  /** Seed of the SAE's initial weights (default 0). */
  readonly seed?: number;
  /** How error messages name the options (default {@link LIBRARY_OPTION_NAMES}). */
  readonly optionNames?: Partial<OptionNames>;
}

/** The training examples `options` asks for on `examples` examples (the default capped). */
export function trainExamplesOf(examples: number, options: DiscoverSettings): number {
  return options.trainExamples ?? Math.min(DEFAULT_TRAIN_EXAMPLES, examples);
}

/**
 * Why `options` cannot run on `x`'s examples, as one sentence naming the option as
 * `options.optionNames` calls it; null when they can. The rules: at least 2 latents (a head's
 * code is its argmax latent, and one latent codes every head alike), an L1 coefficient >= 0, a
 * positive number of epochs, a positive learning rate, and from 2 training examples (one of each
 * class) up to the examples there are: more would silently train on all of them.
 */
export function discoverOptionsProblem(
  x: { readonly examples: number },
  options: DiscoverSettings,
): string | null {
  const names = { ...LIBRARY_OPTION_NAMES, ...options.optionNames };
  const { latents = 200, l1 = 0.02, epochs = 500, lr = 1e-3 } = options;
  const trainExamples = trainExamplesOf(x.examples, options);
  if (x.examples < 2) {
    return `discovery needs at least 2 examples (one task and one corrupted), not ${x.examples}`;
  }
  if (!Number.isInteger(latents) || latents < 2) {
    return `${names.latents} must be an integer of at least 2, not ${latents}: a head's code is ` +
      "its argmax latent, and one latent codes every head alike";
  }
  if (!(Number.isFinite(l1) && l1 >= 0)) return `${names.l1} must be a number >= 0, not ${l1}`;
  if (!Number.isInteger(epochs) || epochs < 1) {
    return `${names.epochs} must be a positive integer, not ${epochs}`;
  }
  if (!(Number.isFinite(lr) && lr > 0)) return `${names.lr} must be a positive number, not ${lr}`;
  if (!Number.isInteger(trainExamples) || trainExamples < 2) {
    return `${names.trainExamples} must be an integer of at least 2 (one task and one ` +
      `corrupted example), not ${trainExamples}`;
  }
  if (trainExamples > x.examples) {
    return `${names.trainExamples} ${trainExamples} is more than the ${x.examples} examples ` +
      `given; the SAE trains on at most all of them (use at most ${x.examples})`;
  }
  return null;
}
