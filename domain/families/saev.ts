/**
 * saev (OSU-NLP-Group/saev) vision SAEs: one `sae.pt`, which saev's `nn.modeling.dump` writes
 * as a JSON header line followed by `torch.save(sae.state_dict())` in the same file. Tensors
 * W_enc [d, d_sae], b_enc, W_dec [d_sae, d], b_dec (+ `activation.threshold` for BatchTopK).
 *
 * Semantics follow the code that wrote each file (saev/nn/modeling.py):
 * - no `schema` (bare config: d_vit, exp_factor; before 2025-04): ReLU, encoder input `x - b_dec`;
 * - schema 1 (2025-04 to 2025-07-31): ReLU / TopK / BatchTopK, encoder input `x - b_dec`, except
 *   files written by e7ca004 (2025-07-31) and the schema-1 commits after it, which no longer
 *   remove b_dec; the header's `commit` (git's short hash of the writer) tells them apart (see
 *   {@link SCHEMA1_WITHOUT_B_DEC}); an unknown commit is read as the older writers wrote;
 * - schema >= 2 (2025-07-31 on): `x @ W_enc + b_enc`, no b_dec removal.
 * saeserve.json may override any of these with `"apply_b_dec_to_input": true | false`.
 * TopK keeps the k largest pre-activations as they are, negative ones included, as saev's
 * TopKActivation does (upstream test_topk_negative_values); `"topk_rectify": true` in
 * saeserve.json applies ReLU to them instead (saeserve's behaviour before issue 16). BatchTopK
 * is served as its eval-mode JumpReLU at `activation.threshold` (a threshold <= 0 is ReLU).
 *
 * saev trains on (x - mean) / scalar (its activations Dataset); saeserve.json's
 * `"normalization": {"mean": [d], "scalar": s}` folds that into the weights, so requests send
 * raw activations, codes equal saev's, and reconstructions come back in raw space. (saev's
 * Dataset also clamps x to +-1e5 before normalizing; that clamp is not applied here.)
 * @module
 */

import { type ByteSource, readRange, tailSource } from "../io/byte_source.ts";
import type { Activation, SaeWeights } from "../sae/dictionary.ts";
import { FormatError } from "../errors.ts";
import type { Matrix } from "../sae/matrix.ts";
import { readTorchCheckpoint, type TorchCheckpoint } from "../io/torch_pickle.ts";
import { type Folder, MAX_CONFIG_BYTES, pythonJsonToJson, readJsonObject } from "./folder.ts";
import type { Architecture, DictionaryDescription, LoadOptions } from "./loaded.ts";
import {
  expectTorchShape,
  loadTorchInFileOrder,
  torchMatrix,
  torchRef,
  torchScalar,
  torchVector,
} from "./torch_weights.ts";

/** The file that marks a saev folder. */
export const SAEV_FILE = "sae.pt";

const SIDECAR = "saeserve.json";

/** What a saev header says, after resolving its schema. */
export interface SaevConfig {
  /** The header's schema (null: the bare pre-schema config). */
  readonly schema: number | null;
  readonly activation: "relu" | "topk" | "batchtopk";
  readonly k?: number;
  /** d and d_sae when the header gives them (the tensors are the source of truth). */
  readonly dIn?: number;
  readonly dSae?: number;
  /** Whether the encoder input is x - b_dec. */
  readonly subtractBDec: boolean;
}

type Json = Record<string, unknown>;

function object(v: unknown): Json {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? v as Json : {};
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

const ACTIVATIONS: Record<string, SaevConfig["activation"]> = {
  Relu: "relu",
  TopK: "topk",
  BatchTopK: "batchtopk",
};

/**
 * The saev commits that wrote schema-1 headers without removing b_dec before encoding: e7ca004
 * ("don't remove decoder bias", 2025-07-31) and its descendants up to 8d38c23, which moved to
 * schema 2 (every commit of OSU-NLP-Group/saev with e7ca004 as ancestor whose dump() still
 * wrote `"schema": 1`).
 */
export const SCHEMA1_WITHOUT_B_DEC: readonly string[] = [
  "e7ca004660a3ab414da7002fcecfc157d5b786aa",
  "65c5a2b55e11c380d1b0ae537524977b240b346d",
  "f5d892c65a1b2cec1603651f820b884c13656a93",
  "8aecac1833f6412b9f6262b28b90248da6d49d26",
  "ea2c9f59a17924f1a66b60a03fecbad66fbe9848",
  "5fee417720e4c3cacca1ad2d8177c1455877838a",
  "6845bc22bdfe38d2a3e1b401b067ba8fa1a555be",
  "9f39cf867fc2bcf75bdbb04dfb6f2ffa1531e932",
  "5056de48451e471a2978972abcf2196b291da32c",
  "795479bf1f82bb1c16f7e3bbb06ff71e35730e24",
  "fad99298d1458e372361f3f16693cbd672f9d71a",
  "ab690dc03fe95926b0f9215476db0fca46a06a2b",
];

/**
 * Whether a schema-1 header's `commit` names one of {@link SCHEMA1_WITHOUT_B_DEC}: git's short
 * hash (7 or more hex digits) or a full one. "unknown" (saev run outside a git checkout) and
 * other commits are not.
 */
export function writtenWithoutBDec(commit: unknown): boolean {
  if (typeof commit !== "string" || !/^[0-9a-fA-F]{7,40}$/.test(commit)) return false;
  const prefix = commit.toLowerCase();
  return SCHEMA1_WITHOUT_B_DEC.some((full) => full.startsWith(prefix));
}

/** Resolve a saev header of any schema (none, 1 in both its forms, 2 to 5). */
export function parseSaevHeader(header: Json): SaevConfig {
  const schema = header.schema;
  let cfg: Json;
  let cls: unknown;
  let params: Json;
  if (schema === undefined) {
    cfg = header;
    cls = "Relu";
    params = {};
  } else if (schema === 1) {
    // Format 1A: `cls` names the activation, top_k sits in cfg; 1B: cfg.activation {cls, params}.
    cfg = object(header.cfg);
    const activation = object(cfg.activation);
    const legacy = typeof header.cls === "string" && header.cls !== "SparseAutoencoderConfig";
    cls = legacy ? header.cls : activation.cls;
    params = legacy ? cfg : object(activation.params);
  } else if (schema === 2 || schema === 3 || schema === 4 || schema === 5) {
    cfg = object(header.cfg);
    const activation = object(cfg.activation);
    cls = activation.cls;
    params = object(activation.params);
  } else {
    throw new FormatError(SAEV_FILE, `unknown saev header schema ${JSON.stringify(schema)}`, {
      kind: "invalid",
    });
  }
  const activation = typeof cls === "string" ? ACTIVATIONS[cls] : undefined;
  if (!activation) {
    throw new FormatError(SAEV_FILE, `unsupported saev activation ${JSON.stringify(cls)}`, {
      kind: "invalid",
    });
  }
  const dIn = positiveInt(cfg.d_model) ?? positiveInt(cfg.d_vit);
  const expansion = positiveInt(cfg.exp_factor);
  const dSae = positiveInt(cfg.d_sae) ?? (dIn && expansion ? dIn * expansion : undefined);
  let k: number | undefined;
  if (activation === "topk") {
    k = positiveInt(params.top_k);
    if (k === undefined) throw new FormatError(SAEV_FILE, "TopK needs a positive integer top_k");
  }
  return {
    schema: typeof schema === "number" ? schema : null,
    activation,
    k,
    dIn,
    dSae,
    subtractBDec: schema === undefined || (schema === 1 && !writtenWithoutBDec(header.commit)),
  };
}

/** Read the JSON header line and return it with the torch archive that follows it. */
async function open(folder: Folder): Promise<{ config: SaevConfig; checkpoint: TorchCheckpoint }> {
  const source = await folder.open(SAEV_FILE);
  let end = -1;
  let head: Uint8Array = new Uint8Array(0);
  for (const size of [1 << 16, MAX_CONFIG_BYTES]) {
    head = await readRange(source, { offset: 0, length: Math.min(size, source.size) });
    end = head.indexOf(0x0a);
    if (end >= 0 || head.length === source.size) break;
  }
  if (end < 0) {
    throw new FormatError(SAEV_FILE, "no JSON header line before the torch archive");
  }
  let header: unknown;
  try {
    header = JSON.parse(
      pythonJsonToJson(new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(0, end))),
    );
  } catch (e) {
    throw new FormatError(SAEV_FILE, `header line is not JSON: ${(e as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new FormatError(SAEV_FILE, "header line is not a JSON object");
  }
  const config = parseSaevHeader(header as Json);
  const archive: ByteSource = tailSource(source, end + 1);
  return { config, checkpoint: await readTorchCheckpoint(archive) };
}

/** d and d_sae from W_enc, checked against W_dec and the header. */
function shapes(config: SaevConfig, checkpoint: TorchCheckpoint): { dIn: number; dSae: number } {
  const enc = torchRef(checkpoint, "W_enc", { file: SAEV_FILE });
  if (enc.shape.length !== 2) throw new FormatError(SAEV_FILE, "W_enc must be 2-D");
  const [dIn, dSae] = enc.shape;
  expectTorchShape(checkpoint, "W_dec", { shape: [dSae, dIn], file: SAEV_FILE });
  if ((config.dIn ?? dIn) !== dIn || (config.dSae ?? dSae) !== dSae) {
    throw new FormatError(
      SAEV_FILE,
      `header says d=${config.dIn}, d_sae=${config.dSae}; W_enc is [${enc.shape}]`,
    );
  }
  if (config.activation === "batchtopk" && !checkpoint.tensors.has("activation.threshold")) {
    throw new FormatError(
      SAEV_FILE,
      "BatchTopK without activation.threshold (saev before 2025-11) selects top-k across the " +
        "whole batch at inference; that has no per-row equivalent",
      { kind: "invalid" },
    );
  }
  return { dIn, dSae };
}

/** The sidecar's saev options: activation normalization, an explicit b_dec choice, TopK's ReLU. */
interface SaevSidecar {
  readonly mean?: Float32Array;
  readonly scalar?: number;
  readonly subtractBDec?: boolean;
  /** `topk_rectify`: TopK codes relu'd after the selection (default: kept as they are). */
  readonly rectifyTopK?: boolean;
}

async function readSidecar(folder: Folder, dIn: number): Promise<SaevSidecar> {
  if (!folder.files.has(SIDECAR)) return {};
  const sidecar = await readJsonObject(folder, SIDECAR);
  const apply = sidecar.apply_b_dec_to_input;
  if (apply !== undefined && typeof apply !== "boolean") {
    throw new FormatError(SIDECAR, "apply_b_dec_to_input must be true or false");
  }
  const rectify = sidecar.topk_rectify;
  if (rectify !== undefined && typeof rectify !== "boolean") {
    throw new FormatError(SIDECAR, "topk_rectify must be true or false");
  }
  if (sidecar.normalization === undefined) return { subtractBDec: apply, rectifyTopK: rectify };
  const n = sidecar.normalization as Json;
  if (typeof n !== "object" || n === null || Array.isArray(n)) {
    throw new FormatError(SIDECAR, "normalization must be {mean: [d numbers], scalar: number}");
  }
  let mean: Float32Array | undefined;
  if (n.mean !== undefined) {
    if (
      !Array.isArray(n.mean) || n.mean.length !== dIn ||
      !n.mean.every((v) => typeof v === "number" && Number.isFinite(v))
    ) {
      throw new FormatError(SIDECAR, `normalization.mean must be ${dIn} finite numbers`);
    }
    mean = Float32Array.from(n.mean as number[]);
  }
  const scalar = n.scalar;
  if (
    scalar !== undefined && !(typeof scalar === "number" && Number.isFinite(scalar) && scalar > 0)
  ) {
    throw new FormatError(SIDECAR, "normalization.scalar must be a positive number");
  }
  return { mean, scalar: scalar as number | undefined, subtractBDec: apply, rectifyTopK: rectify };
}

const ARCHITECTURE: Record<SaevConfig["activation"], Architecture> = {
  relu: "standard",
  topk: "topk",
  batchtopk: "jumprelu",
};

/** Describe a saev folder from its header and the checkpoint's pickle (no weights read). */
export async function describeSaev(folder: Folder): Promise<DictionaryDescription> {
  const { config, checkpoint } = await open(folder);
  const { dIn, dSae } = shapes(config, checkpoint);
  const sidecar = await readSidecar(folder, dIn);
  const subtract = sidecar.subtractBDec ?? config.subtractBDec;
  const preBias = subtract || sidecar.mean !== undefined;
  return {
    format: "saev",
    architecture: ARCHITECTURE[config.activation],
    dIn,
    dSae,
    dtype: torchRef(checkpoint, "W_enc", { file: SAEV_FILE }).dtype,
    k: config.k === undefined ? undefined : Math.min(config.k, dSae),
    normalization: "none",
    applyBDecToInput: subtract,
    rescaleByDecoderNorm: false,
    skipConnection: false,
    transcoder: false,
    weightBytes: 4 *
      (2 * dIn * dSae + dSae * (config.activation === "batchtopk" ? 2 : 1) +
        dIn * (preBias ? 2 : 1)),
  };
}

/**
 * Fold x_n = (x - mean) / scalar into the weights: encoding x_n - c with W_enc is encoding
 * x - (mean + scalar c) with W_enc / scalar, and y_n = f W_dec + b_dec comes back to raw space
 * as f (scalar W_dec) + (mean + scalar b_dec). In place except for the returned vectors.
 */
function foldNormalization(
  w: { wEnc: Matrix; wDec: Matrix; bDec: Float32Array; preBias: Float32Array | null },
  norm: { mean?: Float32Array; scalar?: number },
): { bDec: Float32Array; preBias: Float32Array } {
  const scalar = norm.scalar ?? 1;
  const mean = norm.mean ?? new Float32Array(w.bDec.length);
  if (scalar !== 1) {
    for (let i = 0; i < w.wEnc.data.length; i++) w.wEnc.data[i] /= scalar;
    for (let i = 0; i < w.wDec.data.length; i++) w.wDec.data[i] *= scalar;
  }
  const raw = (v: Float32Array | null) => mean.map((m, i) => m + scalar * (v ? v[i] : 0));
  const bDec = raw(w.bDec);
  return { bDec, preBias: w.preBias === w.bDec ? bDec : raw(w.preBias) };
}

/** Load a saev folder into canonical weights. */
export async function loadSaev(folder: Folder, options?: LoadOptions): Promise<SaeWeights> {
  const { config, checkpoint } = await open(folder);
  const { dIn, dSae } = shapes(config, checkpoint);
  const sidecar = await readSidecar(folder, dIn);
  const names = ["W_enc", "b_enc", "W_dec", "b_dec"];
  if (config.activation === "batchtopk") names.push("activation.threshold");
  const t = await loadTorchInFileOrder<Matrix | Float32Array | number>(checkpoint, names, {
    load: async (name) => {
      switch (name) {
        case "W_enc":
          return await torchMatrix(checkpoint, name, {
            rows: dIn,
            cols: dSae,
            file: SAEV_FILE,
            alloc: options?.alloc,
          });
        case "W_dec":
          return await torchMatrix(checkpoint, name, {
            rows: dSae,
            cols: dIn,
            file: SAEV_FILE,
            alloc: options?.alloc,
          });
        case "activation.threshold":
          return await torchScalar(checkpoint, name);
        default:
          return await torchVector(checkpoint, name, { length: name === "b_dec" ? dIn : dSae });
      }
    },
  });
  const wEnc = t.get("W_enc") as Matrix;
  const wDec = t.get("W_dec") as Matrix;
  const bEnc = t.get("b_enc") as Float32Array;
  let bDec = t.get("b_dec") as Float32Array;
  let preBias = (sidecar.subtractBDec ?? config.subtractBDec) ? bDec : null;
  if (sidecar.mean !== undefined || sidecar.scalar !== undefined) {
    ({ bDec, preBias } = foldNormalization({ wEnc, wDec, bDec, preBias }, sidecar));
  }
  let activation: Activation;
  switch (config.activation) {
    case "relu":
      activation = { kind: "relu", bEnc };
      break;
    case "topk": {
      // saev keeps the selected pre-activations as they are; topk_rectify opts into ReLU.
      const k = Math.min(config.k!, dSae);
      activation = sidecar.rectifyTopK
        ? { kind: "topk", bEnc, k }
        : { kind: "topk_signed", bEnc, k };
      break;
    }
    case "batchtopk": {
      // Eval mode: x > threshold ? x : 0, and a threshold <= 0 means x > 0 ? x : 0.
      const threshold = Math.max(t.get("activation.threshold") as number, 0);
      if (!Number.isFinite(threshold)) {
        throw new FormatError(SAEV_FILE, "activation.threshold is not finite");
      }
      activation = { kind: "jumprelu", bEnc, threshold: new Float32Array(dSae).fill(threshold) };
      break;
    }
  }
  return {
    dIn,
    dSae,
    wEnc,
    wDec,
    bDec,
    preBias,
    activation,
    normalization: "none",
    wSkip: null,
  };
}
