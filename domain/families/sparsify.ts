/**
 * EleutherAI sparsify folders: cfg.json + sae.safetensors with an nn.Linear encoder
 * (encoder.weight [num_latents, d_in]), W_dec [num_latents, d_in], b_dec and an optional
 * W_skip. TopK or GroupMax activation; transcoders skip the b_dec subtraction.
 * @module
 */

import type { SaeWeights } from "../sae/dictionary.ts";
import { FormatError } from "../errors.ts";
import type { Matrix } from "../sae/matrix.ts";
import {
  loadSafetensorsTensor,
  readSafetensorsHeader,
  type SafetensorsHeader,
} from "../io/safetensors.ts";
import { type Folder, readJsonObject } from "./folder.ts";
import type { DictionaryDescription, LoadOptions } from "./loaded.ts";
import { asVector, dtypeName, loadInFileOrder, loadSafetensorsMatrix } from "./tensors.ts";

/** Files that mark a sparsify folder. */
export const SPARSIFY_FILES = ["cfg.json", "sae.safetensors"] as const;

/** The parts of a sparsify config saeserve uses. */
export interface SparsifyConfig {
  readonly activation: "topk" | "groupmax";
  readonly k: number;
  readonly transcode: boolean;
}

function parseConfig(cfg: Record<string, unknown>): SparsifyConfig {
  const activation = cfg.activation ?? "topk";
  if (activation !== "topk" && activation !== "groupmax") {
    throw new FormatError(
      "cfg.json",
      `unsupported sparsify activation ${JSON.stringify(activation)}`,
    );
  }
  const k = cfg.k;
  if (typeof k !== "number" || !Number.isSafeInteger(k) || k <= 0) {
    throw new FormatError("cfg.json", "k must be a positive integer");
  }
  return { activation, k, transcode: cfg.transcode === true };
}

/** Shapes from the safetensors header (the source of truth; cfg num_latents may be 0). */
function shapes(cfg: Record<string, unknown>, header: SafetensorsHeader, config: SparsifyConfig) {
  const enc = header.tensors.get("encoder.weight");
  if (!enc || enc.shape.length !== 2) {
    throw new FormatError("sae.safetensors", "missing 2-D encoder.weight");
  }
  const [dSae, dIn] = enc.shape;
  if (typeof cfg.d_in === "number" && cfg.d_in !== dIn) {
    throw new FormatError(
      "cfg.json",
      `d_in ${cfg.d_in} disagrees with encoder.weight [${enc.shape}]`,
    );
  }
  const expansion = typeof cfg.expansion_factor === "number" ? cfg.expansion_factor : undefined;
  const declared = typeof cfg.num_latents === "number" && cfg.num_latents > 0
    ? cfg.num_latents
    : expansion !== undefined
    ? dIn * expansion
    : dSae;
  if (declared !== dSae) {
    throw new FormatError(
      "cfg.json",
      `num_latents ${declared} disagrees with encoder.weight [${enc.shape}]`,
    );
  }
  if (config.k > dSae) {
    throw new FormatError("cfg.json", `k ${config.k} exceeds num_latents ${dSae}`);
  }
  if (config.activation === "groupmax" && dSae % config.k !== 0) {
    throw new FormatError(
      "cfg.json",
      `groupmax needs num_latents (${dSae}) divisible by k (${config.k})`,
    );
  }
  return { dIn, dSae, dtype: dtypeName(enc.dtype), skip: header.tensors.has("W_skip") };
}

async function open(folder: Folder) {
  const cfg = await readJsonObject(folder, "cfg.json");
  const config = parseConfig(cfg);
  const source = await folder.open("sae.safetensors");
  const header = await readSafetensorsHeader(source);
  return { cfg, config, source, header, ...shapes(cfg, header, config) };
}

/** Describe a sparsify folder from its config and safetensors header. */
export async function describeSparsify(folder: Folder): Promise<DictionaryDescription> {
  const { config, dIn, dSae, dtype, skip } = await open(folder);
  return {
    format: "sparsify",
    architecture: config.activation,
    dIn,
    dSae,
    dtype,
    k: config.k,
    normalization: "none",
    applyBDecToInput: !config.transcode,
    rescaleByDecoderNorm: false,
    skipConnection: skip,
    transcoder: config.transcode,
    weightBytes: 4 * (2 * dIn * dSae + dSae + dIn + (skip ? dIn * dIn : 0)),
  };
}

/** Load a sparsify folder into canonical weights (encoder transposed while streaming). */
export async function loadSparsify(folder: Folder, options?: LoadOptions): Promise<SaeWeights> {
  const { config, source, header, dIn, dSae, skip } = await open(folder);
  const names = ["encoder.weight", "encoder.bias", "W_dec", "b_dec", ...(skip ? ["W_skip"] : [])];
  const t = await loadInFileOrder<Matrix | Float32Array>(header, names, {
    load: async (name) => {
      switch (name) {
        case "encoder.weight":
          return await loadSafetensorsMatrix(source, header, {
            name,
            rows: dIn,
            cols: dSae,
            transpose: true,
            alloc: options?.alloc,
          });
        case "W_dec":
          return await loadSafetensorsMatrix(source, header, {
            name,
            rows: dSae,
            cols: dIn,
            alloc: options?.alloc,
          });
        case "W_skip":
          return await loadSafetensorsMatrix(source, header, { name, rows: dIn, cols: dIn });
        default:
          return asVector(
            await loadSafetensorsTensor(source, { header, name }),
            name === "b_dec" ? dIn : dSae,
            { what: name },
          );
      }
    },
  });
  const bDec = t.get("b_dec") as Float32Array;
  const bEnc = t.get("encoder.bias") as Float32Array;
  return {
    dIn,
    dSae,
    wEnc: t.get("encoder.weight") as Matrix,
    wDec: t.get("W_dec") as Matrix,
    bDec,
    preBias: config.transcode ? null : bDec,
    activation: { kind: config.activation, bEnc, k: config.k },
    normalization: "none",
    wSkip: skip ? t.get("W_skip") as Matrix : null,
  };
}
