/**
 * Adam over a set of named f32 parameter arrays, with a learning-rate schedule of linear
 * warmup and linear decay to zero over the final part of training.
 * @module
 */

/** Adam hyper-parameters. */
export interface AdamOptions {
  readonly lr: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
}

/** The learning rate at `step` (0-based) of `steps`: warmup, plateau, decay. */
export function scheduledLr(
  step: number,
  options: { lr: number; steps: number; warmup: number; decay: number },
): number {
  const warm = options.warmup > 0 ? Math.min(1, (step + 1) / options.warmup) : 1;
  const decayStart = options.steps - options.decay;
  const decay = options.decay > 0 && step >= decayStart
    ? Math.max(0, (options.steps - step) / options.decay)
    : 1;
  return options.lr * warm * decay;
}

/** Adam state for named parameters. */
export class Adam {
  readonly #m = new Map<string, Float32Array>();
  readonly #v = new Map<string, Float32Array>();
  #t = 0;
  readonly #b1: number;
  readonly #b2: number;
  readonly #eps: number;

  /** An optimizer with the given betas and epsilon. */
  constructor(options?: Omit<AdamOptions, "lr">) {
    this.#b1 = options?.beta1 ?? 0.9;
    this.#b2 = options?.beta2 ?? 0.999;
    this.#eps = options?.eps ?? 1e-8;
  }

  /** Apply one update at learning rate `lr` to every (name, param, grad) triple. */
  step(entries: [string, Float32Array, Float32Array][], lr: number): void {
    this.#t++;
    const c1 = 1 - this.#b1 ** this.#t;
    const c2 = 1 - this.#b2 ** this.#t;
    for (const [name, p, g] of entries) {
      let m = this.#m.get(name);
      let v = this.#v.get(name);
      if (!m || !v) {
        this.#m.set(name, m = new Float32Array(p.length));
        this.#v.set(name, v = new Float32Array(p.length));
      }
      const b1 = this.#b1;
      const b2 = this.#b2;
      const eps = this.#eps;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        p[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
      }
    }
  }
}
