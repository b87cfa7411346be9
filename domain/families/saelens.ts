/**
 * SAELens folders: cfg.json + sae_weights.safetensors. Reads v6 configs and pre-6.0 ones
 * (hook_point, activation_fn_str/activation_fn, activation_fn_kwargs.k, boolean
 * normalize_activations), architectures standard / jumprelu / topk / gated.
 *
 * Pre-6.0 standard SAEs with activation_fn "tanh-relu" encode as SAELens 5.9 does,
 * tanh(relu(h)); SAELens 6 reads the same config as plain ReLU, so 5.9 is the reference.
 *
 * Pre-6.0 fine-tuned SAEs (cfg `finetuning_scaling_factor: true` and a `scaling_factor` or
 * `finetuning_scaling_factor` tensor) decode as SAELens 5.9's SAE.decode does,
 * `(f * s) @ W_dec + b_dec`: s is folded into the W_dec rows, so codes, decode, reconstruction
 * and steering (edits are in code units, as on SAELens' hook_sae_acts_post) all match 5.9.
 * @module
 */

import type { Activation, SaeWeights } from "../sae/dictionary.ts";
import { FormatError } from "../errors.ts";
import {
  loadSafetensorsTensor,
  readSafetensorsHeader,
  type SafetensorsHeader,
} from "../io/safetensors.ts";
import type { Folder } from "./folder.ts";
import { readJsonObject } from "./folder.ts";
import type { Architecture, DictionaryDescription, LoadOptions } from "./loaded.ts";
import { asVector, dtypeName, loadInFileOrder, loadSafetensorsMatrix } from "./tensors.ts";
import type { Matrix } from "../sae/matrix.ts";

/** Files that mark a SAELens folder. */
export const SAELENS_FILES = ["cfg.json", "sae_weights.safetensors"] as const;

/** The parts of a SAELens config saeserve uses, after resolving old spellings. */
export interface SaeLensConfig {
  readonly dIn: number;
  readonly dSae: number;
  readonly architecture: Exclude<Architecture, "groupmax">;
  readonly k?: number;
  readonly applyBDecToInput: boolean;
  readonly normalization: "none" | "constant_norm_rescale" | "layer_norm";
  readonly rescaleByDecoderNorm: boolean;
  readonly dtype: string;
  readonly hookName?: string;
  readonly modelName?: string;
  /** Pre-6.0 activation_fn of a standard SAE: codes relu(h), or tanh(relu(h)) as in SAELens 5.9. */
  readonly activationFn: "relu" | "tanh-relu";
  /** Pre-6.0 `finetuning_scaling_factor` flag: decode multiplies codes by a per-latent factor. */
  readonly finetuningScalingFactor: boolean;
}

function positiveInt(cfg: Record<string, unknown>, key: string): number {
  const v = cfg[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
    throw new FormatError("cfg.json", `${key} must be a positive integer`);
  }
  return v;
}

function optionalString(...values: unknown[]): string | undefined {
  for (const v of values) if (typeof v === "string" && v !== "") return v;
  return undefined;
}

/** Resolve a v6 or pre-6.0 SAELens cfg.json. */
export function parseSaeLensConfig(cfg: Record<string, unknown>): SaeLensConfig {
  const dIn = positiveInt(cfg, "d_in");
  const dSae = positiveInt(cfg, "d_sae");
  const activationFn = optionalString(cfg.activation_fn, cfg.activation_fn_str);
  const kwargs = (typeof cfg.activation_fn_kwargs === "object" && cfg.activation_fn_kwargs) || {};
  let architecture = optionalString(cfg.architecture) ?? "standard";
  // SAELens 3.x-5.x saved TopK SAEs as "standard" with activation_fn "topk" and ran them as TopK.
  if (architecture === "standard" && activationFn === "topk") architecture = "topk";
  if (activationFn === "tanh-relu" && architecture !== "standard") {
    throw new FormatError(
      "cfg.json",
      `activation_fn tanh-relu is served for architecture "standard" only (SAELens 5.9: ` +
        `tanh(relu(h))), not ${JSON.stringify(architecture)}`,
      { kind: "invalid" },
    );
  }
  if (
    architecture === "standard" && activationFn !== undefined && activationFn !== "relu" &&
    activationFn !== "tanh-relu"
  ) {
    throw new FormatError("cfg.json", `unsupported activation_fn ${JSON.stringify(activationFn)}`, {
      kind: "invalid",
    });
  }
  if (architecture === "batchtopk") architecture = "jumprelu"; // saved as jumprelu with a threshold
  if (!["standard", "jumprelu", "topk", "gated"].includes(architecture)) {
    throw new FormatError("cfg.json", `unsupported architecture ${JSON.stringify(architecture)}`);
  }
  let k: number | undefined;
  if (architecture === "topk") {
    const raw = cfg.k ?? (kwargs as Record<string, unknown>).k;
    if (typeof raw !== "number" || !Number.isSafeInteger(raw) || raw <= 0 || raw > dSae) {
      throw new FormatError("cfg.json", `topk needs an integer k in [1, d_sae], got ${raw}`);
    }
    k = raw;
  }
  const norm = cfg.normalize_activations;
  let normalization: SaeLensConfig["normalization"];
  if (norm === undefined || norm === null || norm === false || norm === "none") {
    normalization = "none";
  } // Folded into the weights by SAELens when a scaling factor is known; never applied at run time.
  else if (norm === true || norm === "expected_average_only_in") normalization = "none";
  else if (norm === "constant_norm_rescale" || norm === "layer_norm") normalization = norm;
  else {throw new FormatError(
      "cfg.json",
      `unsupported normalize_activations ${JSON.stringify(norm)}`,
    );}
  const reshape = cfg.reshape_activations;
  if (reshape !== undefined && reshape !== null && reshape !== "none" && reshape !== "hook_z") {
    throw new FormatError("cfg.json", `unsupported reshape_activations ${JSON.stringify(reshape)}`);
  }
  const metadata = (typeof cfg.metadata === "object" && cfg.metadata ? cfg.metadata : {}) as Record<
    string,
    unknown
  >;
  const dtype = (optionalString(cfg.dtype) ?? "float32").replace(/^torch\./, "");
  return {
    dIn,
    dSae,
    architecture: architecture as SaeLensConfig["architecture"],
    k,
    applyBDecToInput: cfg.apply_b_dec_to_input === undefined
      ? true
      : cfg.apply_b_dec_to_input === true,
    normalization,
    rescaleByDecoderNorm: architecture === "topk" && cfg.rescale_acts_by_decoder_norm === true,
    dtype,
    hookName: optionalString(metadata.hook_name, cfg.hook_name, cfg.hook_point),
    modelName: optionalString(metadata.model_name, cfg.model_name),
    activationFn: activationFn === "tanh-relu" ? "tanh-relu" : "relu",
    finetuningScalingFactor: cfg.finetuning_scaling_factor === true,
  };
}

function describe(config: SaeLensConfig, header: SafetensorsHeader): DictionaryDescription {
  let bytes = 0;
  for (const e of header.tensors.values()) bytes += (e.shape.reduce((a, b) => a * b, 1)) * 4;
  const wEnc = header.tensors.get("W_enc");
  return {
    format: "saelens",
    architecture: config.architecture,
    dIn: config.dIn,
    dSae: config.dSae,
    dtype: wEnc ? dtypeName(wEnc.dtype) : config.dtype,
    k: config.k,
    normalization: config.normalization,
    applyBDecToInput: config.applyBDecToInput,
    rescaleByDecoderNorm: config.rescaleByDecoderNorm,
    skipConnection: false,
    transcoder: false,
    hookName: config.hookName,
    modelName: config.modelName,
    weightBytes: bytes,
  };
}

/** Describe a SAELens folder from its config and the safetensors header (no weights read). */
export async function describeSaeLens(folder: Folder): Promise<DictionaryDescription> {
  const config = parseSaeLensConfig(await readJsonObject(folder, "cfg.json"));
  const header = await readSafetensorsHeader(await folder.open("sae_weights.safetensors"));
  return describe(config, header);
}

/** Tensors each architecture needs beyond W_enc, W_dec, b_dec (jumprelu adds its threshold). */
const ACTIVATION_TENSORS: Record<SaeLensConfig["architecture"], string[]> = {
  standard: ["b_enc"],
  jumprelu: ["b_enc"],
  topk: ["b_enc"],
  gated: ["b_gate", "r_mag", "b_mag"],
};

/** Load a SAELens folder into canonical weights. */
export async function loadSaeLens(folder: Folder, options?: LoadOptions): Promise<SaeWeights> {
  const config = parseSaeLensConfig(await readJsonObject(folder, "cfg.json"));
  const source = await folder.open("sae_weights.safetensors");
  const header = await readSafetensorsHeader(source);
  const { dIn, dSae } = config;
  const names = ["W_enc", "W_dec", "b_dec", ...ACTIVATION_TENSORS[config.architecture]];
  if (config.architecture === "jumprelu") {
    const name = ["threshold", "log_threshold"].find((n) => header.tensors.has(n));
    if (!name) {
      throw new FormatError(
        "safetensors",
        "missing tensor threshold (or log_threshold): a jumprelu SAE needs one",
      );
    }
    names.push(name);
  }
  const scaleName = finetuningScaleTensor(header);
  if (scaleName) names.push(scaleName);
  const t = await loadInFileOrder(header, names, {
    load: async (name) => {
      if (name === "W_enc") {
        return await loadSafetensorsMatrix(source, header, {
          name,
          rows: dIn,
          cols: dSae,
          alloc: options?.alloc,
        });
      }
      if (name === "W_dec") {
        return await loadSafetensorsMatrix(source, header, {
          name,
          rows: dSae,
          cols: dIn,
          alloc: options?.alloc,
        });
      }
      const tensor = await loadSafetensorsTensor(source, { header, name });
      if (name === "b_dec") return asVector(tensor, dIn, { what: name });
      // BatchTopK checkpoints may store one scalar threshold for every latent.
      if (name === "threshold" && tensor.data.length === 1) {
        return new Float32Array(dSae).fill(tensor.data[0]);
      }
      const v = asVector(tensor, dSae, { what: name });
      return name === "log_threshold" || name === "r_mag" ? v.map(Math.exp) : v;
    },
  });
  const wEnc = t.get("W_enc") as Matrix;
  const wDec = t.get("W_dec") as Matrix;
  const bDec = t.get("b_dec") as Float32Array;
  const vec = (name: string) => t.get(name) as Float32Array;
  let activation: Activation;
  switch (config.architecture) {
    case "standard":
      activation = config.activationFn === "tanh-relu"
        ? { kind: "tanh_relu", bEnc: vec("b_enc") }
        : { kind: "relu", bEnc: vec("b_enc") };
      break;
    case "jumprelu":
      activation = {
        kind: "jumprelu",
        bEnc: vec("b_enc"),
        threshold: vec(names[names.length - 1]),
      };
      break;
    case "gated":
      activation = {
        kind: "gated",
        bGate: vec("b_gate"),
        magScale: vec("r_mag"),
        bMag: vec("b_mag"),
      };
      break;
    case "topk":
      activation = { kind: "topk", bEnc: vec("b_enc"), k: config.k! };
      break;
  }
  if (scaleName) {
    foldFinetuningScale(wDec.data, vec(scaleName), {
      enabled: config.finetuningScalingFactor,
      name: scaleName,
    });
  }
  if (config.rescaleByDecoderNorm && activation.kind === "topk") {
    foldDecoderNorms(
      { wEnc: wEnc.data, wDec: wDec.data, bEnc: activation.bEnc },
      { dIn, dSae },
    );
  }
  return {
    dIn,
    dSae,
    wEnc,
    wDec,
    bDec,
    preBias: config.applyBDecToInput ? bDec : null,
    activation,
    normalization: config.normalization,
    wSkip: null,
  };
}

/**
 * rescale_acts_by_decoder_norm, folded: h_i * n_i with n_i = ||W_dec[i]|| becomes
 * W_enc[:, i] * n_i and b_enc[i] * n_i; decoding f_i / n_i becomes W_dec[i] / n_i. Codes are
 * unchanged; the decoder rows become unit directions. In place.
 */
export function foldDecoderNorms(
  weights: { wEnc: Float32Array; wDec: Float32Array; bEnc: Float32Array },
  shape: { dIn: number; dSae: number },
): void {
  const { wEnc, wDec, bEnc } = weights;
  const { dIn, dSae } = shape;
  const norms = new Float32Array(dSae);
  for (let i = 0; i < dSae; i++) {
    let sum = 0;
    for (let c = 0; c < dIn; c++) sum += wDec[i * dIn + c] ** 2;
    norms[i] = Math.sqrt(sum);
    // A dead latent (n = 0) stays as it is: its codes are relu(0 * h) = 0 either way.
    if (norms[i] === 0) norms[i] = 1;
    for (let c = 0; c < dIn; c++) wDec[i * dIn + c] /= norms[i];
    bEnc[i] *= norms[i];
  }
  for (let r = 0; r < dIn; r++) {
    for (let i = 0; i < dSae; i++) wEnc[r * dSae + i] *= norms[i];
  }
}

/** The tensor holding a pre-6.0 finetuning scale, if the file has one (two is ambiguous). */
function finetuningScaleTensor(header: SafetensorsHeader): string | undefined {
  const present = ["scaling_factor", "finetuning_scaling_factor"].filter((n) =>
    header.tensors.has(n)
  );
  if (present.length > 1) {
    throw new FormatError(
      "sae_weights.safetensors",
      "both scaling_factor and finetuning_scaling_factor are present",
    );
  }
  return present[0];
}

/**
 * SAELens 5.9's finetuning scale, folded: decode is (f * s) @ W_dec + b_dec, so W_dec[i] *= s_i.
 * As SAELens' read_sae_components_from_disk: a factor of all ones (torch.allclose) is dropped;
 * any other factor needs the cfg flag (SAELens refuses the folder otherwise, and so does this).
 * In place.
 */
export function foldFinetuningScale(
  wDec: Float32Array,
  scale: Float32Array,
  options: { enabled: boolean; name: string },
): void {
  const ones = scale.every((s) => Math.abs(s - 1) <= 1e-8 + 1e-5);
  if (ones) return;
  if (!options.enabled) {
    throw new FormatError(
      "sae_weights.safetensors",
      `${options.name} is present and not all ones, but cfg.json's finetuning_scaling_factor ` +
        "is not true (SAELens refuses this folder too)",
      { kind: "invalid" },
    );
  }
  const dIn = wDec.length / scale.length;
  for (let i = 0; i < scale.length; i++) {
    for (let c = 0; c < dIn; c++) wDec[i * dIn + c] *= scale[i];
  }
}
