/**
 * What SAE training works on: the architectures, the parameters being trained, the
 * objective's settings, and one batch's loss parts and gradients.
 * @module
 */

/** Trainable SAE architectures. */
export type TrainArchitecture = "topk" | "batchtopk" | "jumprelu" | "relu";

/** The parameters being trained (row-major f32). */
export interface SaeParams {
  readonly dIn: number;
  readonly dSae: number;
  /** [d_in, d_sae] */
  readonly wEnc: Float32Array;
  /** [d_sae] */
  readonly bEnc: Float32Array;
  /** [d_sae, d_in] */
  readonly wDec: Float32Array;
  /** [d_in] */
  readonly bDec: Float32Array;
  /** [d_sae] (jumprelu only; empty otherwise) */
  readonly logThreshold: Float32Array;
}

/** Objective settings. */
export interface ObjectiveOptions {
  readonly architecture: TrainArchitecture;
  /** Active latents per row (topk, batchtopk). */
  readonly k?: number;
  /** L1 coefficient (relu) or L0 coefficient (jumprelu). */
  readonly sparsityCoefficient?: number;
  /** JumpReLU straight-through kernel width. */
  readonly bandwidth?: number;
  /** Dead latents (topk, batchtopk AuxK); empty or absent: no AuxK term. */
  readonly dead?: Uint8Array;
  /** Latents the AuxK term may use per row (default d_in / 2). */
  readonly kAux?: number;
  /** AuxK weight (default 1/32). */
  readonly auxAlpha?: number;
  /**
   * Arrays shaped like the parameters to write the gradients into (every value overwritten),
   * reused from step to step; default: new arrays.
   */
  readonly gradients?: SaeParams;
}

/** Loss parts, gradients and statistics of one batch. */
export interface BatchResult {
  readonly loss: number;
  readonly mse: number;
  readonly sparsityLoss: number;
  readonly auxLoss: number;
  /** Fraction of variance unexplained over the batch. */
  readonly fvu: number;
  /** Mean active latents per row. */
  readonly l0: number;
  /** Per latent: how many rows it fired in. */
  readonly fired: Uint32Array;
  /** Smallest selected activation (batchtopk's threshold estimate), or 0. */
  readonly minSelected: number;
  readonly grads: SaeParams;
}

/** Zeroed gradients shaped like `params`: `into`'s arrays zeroed, or new ones. */
export function zeroGradients(params: SaeParams, into?: SaeParams): SaeParams {
  const { dIn, dSae } = params;
  if (into) {
    if (
      into.dIn !== dIn || into.dSae !== dSae ||
      into.logThreshold.length !== params.logThreshold.length
    ) {
      throw new RangeError(`gradients for ${into.dIn}x${into.dSae}, parameters ${dIn}x${dSae}`);
    }
    for (const key of ["wEnc", "bEnc", "wDec", "bDec", "logThreshold"] as const) {
      into[key].fill(0);
    }
    return into;
  }
  return {
    dIn,
    dSae,
    wEnc: new Float32Array(dIn * dSae),
    bEnc: new Float32Array(dSae),
    wDec: new Float32Array(dSae * dIn),
    bDec: new Float32Array(dIn),
    logThreshold: new Float32Array(params.logThreshold.length),
  };
}

/**
 * Bytes a training run holds at least, roughly: the parameters with their gradients and Adam's
 * two moments (four f32 copies of W_enc, W_dec and the biases) and a batch's pre-activations
 * and codes. For refusing, before starting, a run the machine cannot hold.
 */
export function trainingBytes(dims: { dIn: number; latents: number; batch: number }): number {
  const params = 2 * dims.dIn * dims.latents + dims.latents + dims.dIn;
  return 4 * (4 * params + 2 * dims.batch * dims.latents);
}

/**
 * "needs about X GiB; this machine has Y GiB" when a run of `dims` ({@link trainingBytes}) is
 * more than `options.totalBytes`; null when it fits.
 */
export function trainingShortfall(
  dims: { dIn: number; latents: number; batch: number },
  options: { totalBytes: number },
): string | null {
  const need = trainingBytes(dims);
  if (need <= options.totalBytes) return null;
  const gib = (n: number) => (n / 2 ** 30).toFixed(1);
  return `needs about ${gib(need)} GiB; this machine has ${gib(options.totalBytes)} GiB`;
}
