/**
 * Sanity checks of a circuit discovery: whether the labels and the data look like paired task /
 * corrupted examples, and whether any head separates them. Each failed check is one warning
 * sentence; discovery still answers (the ranking is then not to be trusted).
 *
 * Circuit discovery counts, per head, the codes seen on task examples (label 1) and never on
 * corrupted ones (label 0). That only means something when a corrupted example repeats its task
 * example except where the circuit acts: then every other head codes both alike. On unpaired data
 * (unrelated examples, random labels) most heads code most examples differently, every head
 * collects "positive-only" codes from noise, and the heads that carry one consistent signal rank
 * last.
 * @module
 */

/**
 * Below this median share of corrupted examples whose code also occurs on some task example, the
 * data looks unpaired. Measured with the CLI defaults: paired synthetic data 0.93-1.0, the
 * induction-head fixture (random negatives) 0.50-0.61, unpaired synthetic data 0.15-0.28.
 */
export const MIN_SHARED_CODE_RATE = 0.4;

/** Below this node ROC AUC against the ground truth, no head separates (0.5 is chance). */
export const MIN_GROUND_TRUTH_AUC = 0.6;

/**
 * Per head: the share of corrupted examples (label 0) whose code also occurs on a task example
 * (label 1). Heads outside the circuit score near 1 on paired data; NaN without both classes.
 */
export function sharedCodeRates(
  codes: readonly Int32Array[],
  labels: ArrayLike<number>,
  options: { heads: number },
): number[] {
  const { heads } = options;
  return Array.from({ length: heads }, (_, h) => {
    const onTask = new Set<number>();
    codes.forEach((row, e) => {
      if (labels[e] === 1) onTask.add(row[h]);
    });
    let negatives = 0;
    let shared = 0;
    codes.forEach((row, e) => {
      if (labels[e] === 1) return;
      negatives++;
      if (onTask.has(row[h])) shared++;
    });
    return onTask.size && negatives ? shared / negatives : NaN;
  });
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function percent(v: number): string {
  return `${Math.round(v * 100)} %`;
}

/** What the checks look at besides the codes. */
export interface CheckInputs {
  /** Positive-only codes per head (node counts), by head index. */
  readonly counts: readonly number[];
  /** Node ROC AUC against the ground truth, when one was given. */
  readonly groundTruthAuc?: number;
}

/**
 * The warnings of a discovery over `codes` (one argmax code per example and head) and 0/1
 * `labels`: classes missing or unbalanced, data that looks unpaired, no head separating. Empty
 * when everything looks as the method expects.
 */
export function circuitWarnings(
  codes: readonly Int32Array[],
  labels: ArrayLike<number>,
  inputs: CheckInputs,
): string[] {
  const warnings: string[] = [];
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) positives++;
  const negatives = labels.length - positives;
  if (!positives || !negatives) {
    warnings.push(
      `the labels hold no ${positives ? "corrupted (0)" : "task (1)"} examples: discovery ` +
        `compares task examples (label 1) with their corrupted copies (label 0), so it needs both`,
    );
    return warnings;
  }
  if (positives !== negatives) {
    warnings.push(
      `${positives} task (1) and ${negatives} corrupted (0) examples: paired data has one ` +
        `corrupted example per task example`,
    );
  }
  const heads = inputs.counts.length;
  const rates = sharedCodeRates(codes, labels, { heads });
  const shared = median(rates);
  if (heads > 1 && shared < MIN_SHARED_CODE_RATE) {
    warnings.push(
      `labels and data look unpaired: on the median head only ${percent(shared)} of corrupted ` +
        `examples share a code with any task example (paired data: most of them), so ` +
        `positive-only codes count noise and heads with a consistent signal rank last`,
    );
  }
  const top = Math.max(...inputs.counts);
  if (top === 0) {
    warnings.push(
      "no head separates: no head has a code seen on task examples and never on corrupted ones",
    );
  } else if (heads > 1 && Math.min(...inputs.counts) === top) {
    warnings.push(
      `no head separates: every head has ${top} positive-only codes, so the ranking is a tie`,
    );
  }
  const auc = inputs.groundTruthAuc;
  if (auc !== undefined && auc < MIN_GROUND_TRUTH_AUC) {
    warnings.push(
      `no head separates as expected: the ground-truth heads rank at node ROC AUC ` +
        `${auc.toFixed(3)} (0.5 is chance, 1 puts them first)`,
    );
  }
  return warnings;
}
