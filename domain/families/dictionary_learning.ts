/**
 * dictionary_learning (saprmarks/dictionary_learning) folders: `ae.pt` (the final
 * `torch.save(ae.state_dict())`) + `config.json` (`{"trainer": {"dict_class", "k", ...}}`),
 * loaded as `utils.load_dictionary` does. Per dict_class (dictionary.py, trainers/*.py):
 * - AutoEncoder: relu(encoder(x - bias)), decoder(f) + bias; `from_pretrained` normalizes the
 *   decoder columns by default (encoder rows and bias rescaled), and so does this loader;
 * - AutoEncoderNew: relu(encoder(x)), decoder(f) with the decoder's own bias;
 * - GatedAutoEncoder: gate encoder(x - decoder_bias) + gate_bias > 0, magnitude
 *   relu(exp(r_mag) * encoder(x - decoder_bias) + mag_bias);
 * - JumpReluAutoEncoder: W_enc / b_enc / W_dec / b_dec / threshold, no b_dec removal
 *   (apply_b_dec_to_input is False after `from_pretrained` of an ae.pt);
 * - AutoEncoderTopK: top k of relu(encoder(x - b_dec));
 * - BatchTopKSAE, MatryoshkaBatchTopKSAE: their default `encode(use_threshold=True)`,
 *   relu(h) * (relu(h) > threshold), i.e. a JumpReLU at max(threshold, 0).
 * nn.Linear weights ([out, in]) are transposed while they load.
 * @module
 */

import type { Activation, SaeWeights } from "../sae/dictionary.ts";
import { FormatError } from "../errors.ts";
import type { Matrix } from "../sae/matrix.ts";
import { readTorchCheckpoint, type TorchCheckpoint } from "../io/torch_pickle.ts";
import { type Folder, readJsonObject } from "./folder.ts";
import type { Architecture, DictionaryDescription, LoadOptions } from "./loaded.ts";
import { foldDecoderNorms } from "./saelens.ts";
import {
  expectTorchShape,
  loadTorchInFileOrder,
  torchMatrix,
  torchRef,
  torchScalar,
  torchVector,
} from "./torch_weights.ts";

/** Files that mark a dictionary_learning folder. */
export const DICTIONARY_LEARNING_FILES = ["ae.pt", "config.json"] as const;

const AE = "ae.pt";

/** The dictionary classes load_dictionary knows (IdentityDict has no weights). */
type DictClass =
  | "AutoEncoder"
  | "AutoEncoderNew"
  | "GatedAutoEncoder"
  | "JumpReluAutoEncoder"
  | "AutoEncoderTopK"
  | "BatchTopKSAE"
  | "MatryoshkaBatchTopKSAE";

/** Where each class keeps its tensors: the encoder either nn.Linear ([d_sae, d]) or W_enc [d, d_sae]. */
interface Layout {
  readonly architecture: Architecture;
  /** Encoder matrix and whether it is an nn.Linear weight (stored transposed). */
  readonly enc: string;
  readonly dec: string;
  readonly linear: boolean;
  /** Encoder bias, or null (Gated). */
  readonly bEnc: string | null;
  /** Bias added after decoding. */
  readonly bDec: string;
  /** Whether bDec is subtracted from the input first. */
  readonly preBias: boolean;
  readonly extra: readonly string[];
}

const LINEAR = { enc: "encoder.weight", dec: "decoder.weight", linear: true } as const;
const PARAMS = { enc: "W_enc", dec: "W_dec", linear: false } as const;

const LAYOUTS: Record<DictClass, Layout> = {
  AutoEncoder: {
    architecture: "standard",
    ...LINEAR,
    bEnc: "encoder.bias",
    bDec: "bias",
    preBias: true,
    extra: [],
  },
  AutoEncoderNew: {
    architecture: "standard",
    ...LINEAR,
    bEnc: "encoder.bias",
    bDec: "decoder.bias",
    preBias: false,
    extra: [],
  },
  GatedAutoEncoder: {
    architecture: "gated",
    ...LINEAR,
    bEnc: null,
    bDec: "decoder_bias",
    preBias: true,
    extra: ["gate_bias", "r_mag", "mag_bias"],
  },
  JumpReluAutoEncoder: {
    architecture: "jumprelu",
    ...PARAMS,
    bEnc: "b_enc",
    bDec: "b_dec",
    preBias: false,
    extra: ["threshold"],
  },
  AutoEncoderTopK: {
    architecture: "topk",
    ...LINEAR,
    bEnc: "encoder.bias",
    bDec: "b_dec",
    preBias: true,
    extra: [],
  },
  BatchTopKSAE: {
    architecture: "jumprelu",
    ...LINEAR,
    bEnc: "encoder.bias",
    bDec: "b_dec",
    preBias: true,
    extra: ["threshold"],
  },
  MatryoshkaBatchTopKSAE: {
    architecture: "jumprelu",
    ...PARAMS,
    bEnc: "b_enc",
    bDec: "b_dec",
    preBias: true,
    extra: ["threshold"],
  },
};

interface Opened {
  readonly dictClass: DictClass;
  readonly layout: Layout;
  readonly checkpoint: TorchCheckpoint;
  readonly dIn: number;
  readonly dSae: number;
  readonly k?: number;
  readonly trainer: Record<string, unknown>;
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

async function open(folder: Folder): Promise<Opened> {
  const config = await readJsonObject(folder, "config.json");
  const trainer = config.trainer;
  if (typeof trainer !== "object" || trainer === null || Array.isArray(trainer)) {
    throw new FormatError("config.json", "missing the trainer object");
  }
  const t = trainer as Record<string, unknown>;
  const dictClass = t.dict_class;
  if (typeof dictClass !== "string" || !Object.hasOwn(LAYOUTS, dictClass)) {
    throw new FormatError(
      "config.json",
      `unsupported dictionary_learning dict_class ${JSON.stringify(dictClass)}`,
      { kind: "invalid" },
    );
  }
  const layout = LAYOUTS[dictClass as DictClass];
  const checkpoint = await readTorchCheckpoint(await folder.open(AE));
  if (checkpoint.tensors.has(`ae.${layout.enc}`)) {
    throw new FormatError(
      AE,
      "holds a training checkpoint ({step, ae, optimizer}); only the final ae.pt state dict loads",
      { kind: "invalid" },
    );
  }
  const enc = torchRef(checkpoint, layout.enc, { file: AE });
  if (enc.shape.length !== 2) throw new FormatError(AE, `${layout.enc} must be 2-D`);
  const [dIn, dSae] = layout.linear ? [enc.shape[1], enc.shape[0]] : enc.shape;
  expectTorchShape(checkpoint, layout.dec, {
    shape: layout.linear ? [dIn, dSae] : [dSae, dIn],
    file: AE,
  });
  for (const [key, n] of [["activation_dim", dIn], ["dict_size", dSae]] as const) {
    if (t[key] !== undefined && t[key] !== n) {
      throw new FormatError("config.json", `${key} ${t[key]} disagrees with ${AE} (${n})`);
    }
  }
  let k: number | undefined;
  if (dictClass === "AutoEncoderTopK") {
    k = positiveInt(t.k);
    if (k === undefined && checkpoint.tensors.has("k")) {
      k = positiveInt(await torchScalar(checkpoint, "k"));
    }
    if (k === undefined || k > dSae) {
      throw new FormatError("config.json", `AutoEncoderTopK needs an integer k in [1, ${dSae}]`);
    }
  }
  return { dictClass: dictClass as DictClass, layout, checkpoint, dIn, dSae, k, trainer: t };
}

/** Describe a dictionary_learning folder from config.json and the checkpoint's pickle. */
export async function describeDictionaryLearning(folder: Folder): Promise<DictionaryDescription> {
  const { layout, checkpoint, dIn, dSae, k, trainer } = await open(folder);
  const vectors = dSae *
    (layout.architecture === "gated" ? 3 : layout.architecture === "jumprelu" ? 2 : 1);
  return {
    format: "dictionary_learning",
    architecture: layout.architecture,
    dIn,
    dSae,
    dtype: torchRef(checkpoint, layout.enc, { file: AE }).dtype,
    k,
    normalization: "none",
    applyBDecToInput: layout.preBias,
    rescaleByDecoderNorm: false,
    skipConnection: false,
    transcoder: false,
    hookName: typeof trainer.submodule_name === "string" ? trainer.submodule_name : undefined,
    modelName: typeof trainer.lm_name === "string" ? trainer.lm_name : undefined,
    weightBytes: 4 * (2 * dIn * dSae + vectors + dIn * (layout.preBias ? 2 : 1)),
  };
}

/** Whether every decoder column already has unit norm (torch.allclose's default tolerances). */
function unitNorms(wDec: Float32Array, dIn: number, dSae: number): boolean {
  for (let i = 0; i < dSae; i++) {
    let sum = 0;
    for (let c = 0; c < dIn; c++) sum += wDec[i * dIn + c] ** 2;
    if (Math.abs(Math.sqrt(sum) - 1) > 1e-8 + 1e-5) return false;
  }
  return true;
}

/** Load a dictionary_learning folder into canonical weights. */
export async function loadDictionaryLearning(
  folder: Folder,
  options?: LoadOptions,
): Promise<SaeWeights> {
  const { dictClass, layout, checkpoint, dIn, dSae, k } = await open(folder);
  const names = [layout.enc, layout.dec, layout.bDec, ...layout.extra];
  if (layout.bEnc) names.push(layout.bEnc);
  const t = await loadTorchInFileOrder<Matrix | Float32Array | number>(checkpoint, names, {
    load: async (name) => {
      if (name === layout.enc || name === layout.dec) {
        const enc = name === layout.enc;
        return await torchMatrix(checkpoint, name, {
          rows: enc ? dIn : dSae,
          cols: enc ? dSae : dIn,
          transpose: layout.linear,
          file: AE,
          alloc: options?.alloc,
        });
      }
      // BatchTopK / Matryoshka keep one scalar threshold (JumpReLU: one per latent).
      if (name === "threshold" && dictClass !== "JumpReluAutoEncoder") {
        return await torchScalar(checkpoint, name);
      }
      return await torchVector(checkpoint, name, { length: name === layout.bDec ? dIn : dSae });
    },
  });
  const wEnc = t.get(layout.enc) as Matrix;
  const wDec = t.get(layout.dec) as Matrix;
  const bDec = t.get(layout.bDec) as Float32Array;
  const vec = (name: string) => t.get(name) as Float32Array;
  let activation: Activation;
  switch (dictClass) {
    case "AutoEncoder":
    case "AutoEncoderNew":
      activation = { kind: "relu", bEnc: vec(layout.bEnc!) };
      break;
    case "GatedAutoEncoder":
      activation = {
        kind: "gated",
        bGate: vec("gate_bias"),
        magScale: vec("r_mag").map(Math.exp),
        bMag: vec("mag_bias"),
      };
      break;
    case "JumpReluAutoEncoder":
      activation = { kind: "jumprelu", bEnc: vec("b_enc"), threshold: vec("threshold") };
      break;
    case "AutoEncoderTopK":
      activation = { kind: "topk", bEnc: vec("encoder.bias"), k: k! };
      break;
    case "BatchTopKSAE":
    case "MatryoshkaBatchTopKSAE": {
      const threshold = Math.max(t.get("threshold") as number, 0);
      if (!Number.isFinite(threshold)) throw new FormatError(AE, "threshold is not finite");
      activation = {
        kind: "jumprelu",
        bEnc: vec(layout.bEnc!),
        threshold: new Float32Array(dSae).fill(threshold),
      };
      break;
    }
  }
  // AutoEncoder.from_pretrained(normalize_decoder=True): unit decoder columns, encoder rows
  // and bias scaled by the old norms (codes scale, reconstructions do not change).
  if (
    activation.kind === "relu" && dictClass === "AutoEncoder" && !unitNorms(wDec.data, dIn, dSae)
  ) {
    foldDecoderNorms(
      { wEnc: wEnc.data, wDec: wDec.data, bEnc: activation.bEnc },
      { dIn, dSae },
    );
  }
  if (activation.kind === "gated" && !activation.magScale.every(Number.isFinite)) {
    throw new FormatError(AE, "exp(r_mag) overflows");
  }
  return {
    dIn,
    dSae,
    wEnc,
    wDec,
    bDec,
    preBias: layout.preBias ? bDec : null,
    activation,
    normalization: "none",
    wSkip: null,
  };
}
