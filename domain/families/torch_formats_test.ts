/**
 * The .pt families: detection, descriptions read from headers and pickles, saeserve.json's
 * saev options, and the checkpoints that are refused (BatchTopK without its inference
 * threshold, unknown schemas and classes, dictionary_learning's mid-training checkpoints).
 * Numbers are checked by the conformance fixtures (tests/conformance.ts).
 * @module
 */

import assert from "node:assert/strict";
import { FormatError } from "../errors.ts";
import { describeFolder, detectFormat, type FormatName, loadFolder, partialFolder } from "./mod.ts";
import { parseSaevHeader } from "./saev.ts";
import { fixtureFiles, memoryFolder } from "../../tests/memory_folder.ts";

const UNIT = new URL("../../tests/fixtures/torch/", import.meta.url);
const fixture = fixtureFiles;

/** A saev file with its header line swapped for `header`. */
function withHeader(name: string, header: unknown): Uint8Array {
  const bytes = fixture(name)["sae.pt"];
  const line = new TextEncoder().encode(JSON.stringify(header) + "\n");
  const out = new Uint8Array(line.length + bytes.length - (bytes.indexOf(0x0a) + 1));
  out.set(line);
  out.set(bytes.subarray(bytes.indexOf(0x0a) + 1), line.length);
  return out;
}

const describe = (format: FormatName, files: Record<string, Uint8Array>) =>
  describeFolder(format, memoryFolder(files));

Deno.test("formats: sae.pt is saev; ae.pt + config.json is dictionary_learning", () => {
  assert.equal(detectFormat(["sae.pt", "saeserve.json"]), "saev");
  assert.equal(detectFormat(["ae.pt", "config.json"]), "dictionary_learning");
  assert.equal(detectFormat(["ae.pt"]), null);
});

Deno.test("formats: a folder holding part of a family says what it lacks", () => {
  assert.equal(partialFolder(["ae.pt"]), "ae.pt but no config.json (dictionary_learning)");
  assert.equal(
    partialFolder(["cfg.json", "saeserve.json"]),
    "cfg.json but no sae_weights.safetensors (SAELens) or sae.safetensors (sparsify)",
  );
  assert.equal(partialFolder(["notes.txt"]), null);
  assert.equal(partialFolder([]), null);
});

Deno.test("saev: descriptions follow the header's schema", async () => {
  const legacy = await describe("saev", fixture("saev_relu_legacy"));
  assert.equal(legacy.format, "saev");
  assert.equal(legacy.architecture, "standard");
  assert.deepEqual([legacy.dIn, legacy.dSae, legacy.dtype], [8, 32, "float32"]);
  assert.equal(legacy.applyBDecToInput, true);
  const schema1 = await describe("saev", fixture("saev_topk_schema1_f16"));
  assert.deepEqual([schema1.architecture, schema1.k, schema1.dtype], ["topk", 5, "float16"]);
  assert.equal(schema1.applyBDecToInput, true);
  const current = await describe("saev", fixture("saev_topk_normalized"));
  assert.deepEqual([current.dIn, current.dSae, current.k], [12, 48, 6]);
  assert.equal(current.applyBDecToInput, false);
  const batch = await describe("saev", fixture("saev_batchtopk_shared"));
  assert.equal(batch.architecture, "jumprelu");
});

Deno.test("saev: header schemas resolve to activation, k and the b_dec choice", () => {
  assert.deepEqual(parseSaevHeader({ d_vit: 4, exp_factor: 2 }), {
    schema: null,
    activation: "relu",
    k: undefined,
    dIn: 4,
    dSae: 8,
    subtractBDec: true,
  });
  const b = parseSaevHeader({
    schema: 1,
    cls: "SparseAutoencoderConfig",
    cfg: { d_vit: 4, exp_factor: 2, activation: { cls: "TopK", params: { top_k: 3 } } },
  });
  assert.deepEqual([b.activation, b.k, b.subtractBDec], ["topk", 3, true]);
  const v3 = parseSaevHeader({
    schema: 3,
    cfg: { d_vit: 4, exp_factor: 2, activation: { cls: "Relu", params: {} } },
  });
  assert.deepEqual([v3.activation, v3.dSae, v3.subtractBDec], ["relu", 8, false]);
  assert.throws(() => parseSaevHeader({ schema: 9, cfg: {} }), /unknown saev header schema 9/);
  assert.throws(
    () => parseSaevHeader({ schema: 1, cls: "JumpRelu", cfg: { d_vit: 4 } }),
    /unsupported saev activation "JumpRelu"/,
  );
  assert.throws(
    () => parseSaevHeader({ schema: 5, cfg: { activation: { cls: "TopK", params: {} } } }),
    /top_k/,
  );
});

Deno.test("saev: BatchTopK without an inference threshold is refused", async () => {
  const header = {
    schema: 4,
    cfg: { d_model: 12, d_sae: 48, activation: { cls: "BatchTopK", params: { top_k: 6 } } },
  };
  const files = fixture("saev_topk_normalized", {
    "sae.pt": withHeader("saev_topk_normalized", header),
  });
  await assert.rejects(describe("saev", files), /no per-row equivalent/);
});

Deno.test("saev: a header that disagrees with the tensors is refused", async () => {
  const header = { schema: 5, cfg: { d_model: 16, d_sae: 48, activation: { cls: "Relu" } } };
  const files = fixture("saev_topk_normalized", {
    "sae.pt": withHeader("saev_topk_normalized", header),
  });
  await assert.rejects(describe("saev", files), /header says d=16, d_sae=48; W_enc is \[12,48\]/);
});

Deno.test("saev: saeserve.json normalization and apply_b_dec_to_input fold into the weights", async () => {
  const sidecar = JSON.parse(
    new TextDecoder().decode(fixture("saev_topk_normalized")["saeserve.json"]),
  );
  const plain = await loadFolder(
    "saev",
    memoryFolder(fixture("saev_topk_normalized", { "saeserve.json": "{}" })),
  );
  assert.equal(plain.preBias, null);
  const folded = await loadFolder("saev", memoryFolder(fixture("saev_topk_normalized")));
  const { mean, scalar } = sidecar.normalization as { mean: number[]; scalar: number };
  assert.deepEqual(Array.from(folded.preBias!), mean.map(Math.fround));
  for (let i = 0; i < 12; i++) {
    assert.ok(Math.abs(folded.bDec[i] - (mean[i] + scalar * plain.bDec[i])) < 1e-5);
  }
  assert.ok(Math.abs(folded.wEnc.data[5] - plain.wEnc.data[5] / scalar) < 1e-6);
  assert.ok(Math.abs(folded.wDec.data[5] - plain.wDec.data[5] * scalar) < 1e-6);
  const subtract = await loadFolder(
    "saev",
    memoryFolder(fixture("saev_topk_normalized", {
      "saeserve.json": JSON.stringify({ ...sidecar, apply_b_dec_to_input: true }),
    })),
  );
  assert.equal(subtract.preBias, subtract.bDec);
  for (
    const bad of [
      { normalization: { mean: [1, 2], scalar: 1 } },
      { normalization: { scalar: 0 } },
      { normalization: [1] },
      { apply_b_dec_to_input: "yes" },
    ]
  ) {
    const files = fixture("saev_topk_normalized", { "saeserve.json": JSON.stringify(bad) });
    await assert.rejects(loadFolder("saev", memoryFolder(files)), FormatError);
  }
});

Deno.test("dictionary_learning: descriptions come from config.json and ae.pt", async () => {
  const jump = await describe("dictionary_learning", fixture("dl_jumprelu_bf16"));
  assert.equal(jump.format, "dictionary_learning");
  assert.deepEqual([jump.architecture, jump.dIn, jump.dSae, jump.dtype], [
    "jumprelu",
    12,
    40,
    "bfloat16",
  ]);
  assert.equal(jump.applyBDecToInput, false);
  assert.equal(jump.hookName, "resid_post_layer_3");
  assert.equal(jump.modelName, "fixture/model");
  const topk = await describe("dictionary_learning", fixture("dl_topk"));
  assert.deepEqual([topk.architecture, topk.k, topk.applyBDecToInput], ["topk", 5, true]);
  const gated = await describe("dictionary_learning", fixture("dl_gated"));
  assert.equal(gated.architecture, "gated");
});

Deno.test("dictionary_learning: unknown classes, mismatched configs and training checkpoints are refused", async () => {
  const config = (trainer: Record<string, unknown>) => JSON.stringify({ trainer });
  await assert.rejects(
    describe(
      "dictionary_learning",
      fixture("dl_topk", { "config.json": config({ dict_class: "IdentityDict" }) }),
    ),
    /unsupported dictionary_learning dict_class "IdentityDict"/,
  );
  await assert.rejects(
    describe(
      "dictionary_learning",
      fixture("dl_topk", { "config.json": config({ dict_class: "AutoEncoderTopK", k: 99 }) }),
    ),
    /k in \[1, 32\]/,
  );
  await assert.rejects(
    describe(
      "dictionary_learning",
      fixture("dl_relu", {
        "config.json": config({ dict_class: "AutoEncoder", activation_dim: 9 }),
      }),
    ),
    /activation_dim 9 disagrees/,
  );
  await assert.rejects(
    describe("dictionary_learning", fixture("dl_relu", { "config.json": "[]" })),
    FormatError,
  );
  // An Adam state dict and config ride along in the pickle, and parse; the loader says why not.
  const training = Deno.readFileSync(new URL("training_checkpoint.pt", UNIT));
  await assert.rejects(
    describe("dictionary_learning", fixture("dl_topk", { "ae.pt": training })),
    /training checkpoint/,
  );
  // Without config.json's k, the state dict's k buffer is used.
  const noK = await describe(
    "dictionary_learning",
    fixture("dl_topk", { "config.json": config({ dict_class: "AutoEncoderTopK" }) }),
  );
  assert.equal(noK.k, 5);
});
