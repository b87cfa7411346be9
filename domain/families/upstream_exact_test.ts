/**
 * Issue 16's upstream-exact loader rules: SAELens 5.x finetuning scales and tanh-relu, Gemma
 * Scope embedding SAEs and lower-case keys, saev's schema-1 writers and unrectified TopK. The
 * numbers on every backend are checked by the conformance fixtures that
 * tests/fixtures/make_upstream_fixtures.py writes; these tests check the rules around them
 * and that the loaded weights give upstream's numbers under the canonical activation.
 * @module
 */

import assert from "node:assert/strict";
import { bytesSource } from "../io/byte_source.ts";
import { SaeError } from "../errors.ts";
import { activate } from "../sae/activation.ts";
import type { SaeWeights } from "../sae/dictionary.ts";
import { describeFolder, type Folder, type FormatName, loadFolder } from "./mod.ts";
import { foldFinetuningScale } from "./saelens.ts";
import { parseSaevHeader, writtenWithoutBDec } from "./saev.ts";

const FIXTURES = new URL("../../tests/fixtures/", import.meta.url);

/** The files of a fixture folder (under dicts/), some replaced. */
function files(
  folder: string,
  replace: Record<string, Uint8Array | string | null> = {},
): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const e of Deno.readDirSync(new URL(`${folder}/`, FIXTURES))) {
    out[e.name] = Deno.readFileSync(new URL(`${folder}/${e.name}`, FIXTURES));
  }
  for (const [n, v] of Object.entries(replace)) {
    if (v === null) delete out[n];
    else out[n] = typeof v === "string" ? new TextEncoder().encode(v) : v;
  }
  return out;
}

function folder(contents: Record<string, Uint8Array>, path?: string): Folder {
  return {
    files: new Map(Object.entries(contents).map(([n, b]) => [n, b.byteLength])),
    open: (name) => Promise.resolve(bytesSource(contents[name])),
    path,
  };
}

const load = (format: FormatName, contents: Record<string, Uint8Array>, path?: string) =>
  loadFolder(format, folder(contents, path));

function json(contents: Record<string, Uint8Array>, name: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(contents[name]));
}

interface Expected {
  x: number[][];
  codes: number[][];
  reconstruction: number[][];
}

function expected(path: string): Expected {
  return JSON.parse(Deno.readTextFileSync(new URL(path, FIXTURES)));
}

/** Pre-activations h = (x - preBias) @ W_enc + bias of one row, in float64. */
function preActivations(w: SaeWeights, x: number[], bias: Float32Array): Float64Array {
  const h = Float64Array.from(bias);
  for (let r = 0; r < w.dIn; r++) {
    const s = x[r] - (w.preBias ? w.preBias[r] : 0);
    for (let i = 0; i < w.dSae; i++) h[i] += s * w.wEnc.data[r * w.dSae + i];
  }
  return h;
}

function decodeDense(w: SaeWeights, f: ArrayLike<number>): number[] {
  const y = Array.from(w.bDec, Number);
  for (let i = 0; i < w.dSae; i++) {
    for (let c = 0; c < w.dIn; c++) y[c] += f[i] * w.wDec.data[i * w.dIn + c];
  }
  return y;
}

function assertNear(actual: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, want.length, what);
  for (let i = 0; i < want.length; i++) {
    const tol = 1e-5 * Math.max(1, Math.abs(want[i]));
    assert.ok(Math.abs(actual[i] - want[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${want[i]}`);
  }
}

const rejects = (p: Promise<unknown>, pattern: RegExp) =>
  assert.rejects(p, (e: Error) => e instanceof SaeError && pattern.test(e.message));

// 1. SAELens 5.x finetuning_scaling_factor -----------------------------------------------------

Deno.test("saelens 5.x: the finetuning scale is folded into W_dec rows, codes unchanged", async () => {
  const scaled = files("dicts/saelens_v5_finetuning_scale");
  const cfg = json(scaled, "cfg.json");
  // A non-unit scale without the cfg flag: SAELens 5.9 raises, so does saeserve.
  const refused = await load(
    "saelens",
    files("dicts/saelens_v5_finetuning_scale", {
      "cfg.json": JSON.stringify({ ...cfg, finetuning_scaling_factor: false }),
    }),
  ).catch((e) => e);
  assert.ok(refused instanceof SaeError && /not all ones/.test(refused.message));
  const w = await load("saelens", scaled);
  assert.deepEqual(w.activation.kind, "relu");
  const f = expected("expected/saelens_v5_finetuning_scale.json");
  const x = f.x[0];
  const h = preActivations(w, x, (w.activation as { bEnc: Float32Array }).bEnc);
  assertNear(h.map((v) => Math.max(0, v)), f.codes[0], "codes");
  assertNear(decodeDense(w, f.codes[0]), f.reconstruction[0], "reconstruction");
});

Deno.test("saelens 5.x: a scale of ones is dropped; any other needs the cfg flag", () => {
  const wDec = Float32Array.from([1, 2, 3, 4]);
  foldFinetuningScale(wDec, Float32Array.from([1, 1 + 1e-6]), { enabled: false, name: "s" });
  assert.deepEqual([...wDec], [1, 2, 3, 4]);
  foldFinetuningScale(wDec, Float32Array.from([2, 0.5]), { enabled: true, name: "s" });
  assert.deepEqual([...wDec], [2, 4, 1.5, 2]);
  assert.throws(
    () => foldFinetuningScale(wDec, Float32Array.from([2, 1]), { enabled: false, name: "s" }),
    /s is present and not all ones/,
  );
});

// 6. SAELens 5.x tanh-relu ----------------------------------------------------------------------

Deno.test("saelens 5.x: standard tanh-relu loads as tanh(relu(h)), giving 5.9's numbers", async () => {
  const contents = files("dicts/saelens_v5_tanh_relu");
  const w = await load("saelens", contents);
  assert.equal(w.activation.kind, "tanh_relu");
  const bEnc = (w.activation as { bEnc: Float32Array }).bEnc;
  const f = expected("expected/saelens_v5_tanh_relu.json");
  for (let r = 0; r < f.x.length; r++) {
    const h = preActivations(w, f.x[r], bEnc);
    assertNear(h.map((v) => Math.tanh(Math.max(0, v))), f.codes[r], `float64 codes row ${r}`);
    const p = Float32Array.from(preActivations(w, f.x[r], new Float32Array(w.dSae)));
    const codes = activate(w.activation, p);
    assertNear(codes, f.codes[r], `codes row ${r}`);
    assertNear(decodeDense(w, codes), f.reconstruction[r], `reconstruction row ${r}`);
  }
  const d = await describeFolder("saelens", folder(contents));
  assert.equal(d.architecture, "standard");
  // Other architectures with tanh-relu stay refused.
  const cfg = json(contents, "cfg.json");
  await rejects(
    load(
      "saelens",
      files("dicts/saelens_v5_tanh_relu", {
        "cfg.json": JSON.stringify({ ...cfg, architecture: "jumprelu" }),
      }),
    ),
    /tanh-relu is served for architecture "standard" only/,
  );
});

// 2, 3. Gemma Scope ------------------------------------------------------------------------------

Deno.test("gemma scope: a path containing 'embedding' scales like SAELens; saeserve.json overrides", async () => {
  const withSidecar = files("dicts/gemma_scope_embedding");
  const bare = files("dicts/gemma_scope_embedding", { "saeserve.json": null });
  const path = "gemma-scope-2b-pt-res/embedding/width_4k/average_l0_6";
  const byPath = await load("gemma_scope", bare, path);
  const bySidecar = await load("gemma_scope", withSidecar);
  assert.deepEqual(byPath.wEnc.data, bySidecar.wEnc.data);
  assert.deepEqual(byPath.wDec.data, bySidecar.wDec.data);
  const raw = await load("gemma_scope", bare, "gemma-scope-2b-pt-res/layer_3/width_16k");
  const root = Math.sqrt(raw.dIn);
  assert.equal(byPath.wEnc.data[5], Math.fround(raw.wEnc.data[5] / root));
  assert.equal(byPath.wDec.data[7], Math.fround(raw.wDec.data[7] * root));
  const off = await load(
    "gemma_scope",
    files("dicts/gemma_scope_embedding", { "saeserve.json": '{"embedding_scale": false}' }),
    path,
  );
  assert.deepEqual(off.wEnc.data, raw.wEnc.data);
  await rejects(
    load(
      "gemma_scope",
      files("dicts/gemma_scope_embedding", {
        "saeserve.json": '{"embedding_scale": "yes"}',
      }),
    ),
    /embedding_scale must be true or false/,
  );
});

Deno.test("gemma scope: lower-case w_enc / w_dec members load as W_enc / W_dec", async () => {
  const lower = files("dicts/gemma_scope_lowercase");
  const d = await describeFolder("gemma_scope", folder(lower));
  assert.deepEqual([d.dIn, d.dSae, d.architecture], [10, 20, "jumprelu"]);
  const w = await load("gemma_scope", lower);
  assert.deepEqual([w.wEnc.rows, w.wEnc.cols, w.wDec.rows], [10, 20, 20]);
});

// 4, 5. saev ---------------------------------------------------------------------------------

Deno.test("saev: schema-1 files from e7ca004 on keep b_dec out of the encoder input", async () => {
  for (const c of ["e7ca004", "9f39cf8", "F5D892C", "e7ca004660a3ab414da7002fcecfc157d5b786aa"]) {
    assert.ok(writtenWithoutBDec(c), c);
  }
  for (const c of ["d991de3", "33f4c14", "8d38c23", "unknown", "e7ca", "fixture", 7, null]) {
    assert.ok(!writtenWithoutBDec(c), String(c));
  }
  const header = (commit: string) => ({ schema: 1, cls: "Relu", commit, cfg: { d_vit: 4 } });
  assert.equal(parseSaevHeader(header("f5d892c")).subtractBDec, false);
  assert.equal(parseSaevHeader(header("d991de3")).subtractBDec, true);
  const d = await describeFolder("saev", folder(files("dicts/saev_relu_schema1_e7ca004")));
  assert.equal(d.applyBDecToInput, false);
  const forced = await load(
    "saev",
    files("dicts/saev_relu_schema1_e7ca004", {
      "saeserve.json": '{"apply_b_dec_to_input": true}',
    }),
  );
  assert.ok(forced.preBias !== null);
});

Deno.test("saev: TopK keeps upstream's unrectified codes (negatives kept); topk_rectify opts out", async () => {
  const contents = files("dicts/saev_topk_negative");
  const w = await load("saev", contents);
  assert.equal(w.activation.kind, "topk_signed");
  const { bEnc, k } = w.activation as { bEnc: Float32Array; k: number };
  const f = expected("expected/saev_topk_negative.json");
  let negatives = 0;
  for (let r = 0; r < f.x.length; r++) {
    const h = preActivations(w, f.x[r], bEnc);
    const order = [...h.keys()].sort((a, b) => h[b] - h[a] || a - b).slice(0, k);
    const codes = new Float64Array(w.dSae);
    for (const i of order) codes[i] = h[i];
    negatives += codes.filter((v) => v < 0).length;
    assertNear(codes, f.codes[r], `codes row ${r}`);
    assertNear(decodeDense(w, codes), f.reconstruction[r], `reconstruction row ${r}`);
    const p = Float32Array.from(preActivations(w, f.x[r], new Float32Array(w.dSae)));
    assertNear(activate(w.activation, p), f.codes[r], `canonical codes row ${r}`);
  }
  assert.ok(negatives > 0, "the fixture keeps negative codes");
  const rectified = await load(
    "saev",
    files("dicts/saev_topk_negative", { "saeserve.json": '{"topk_rectify": true}' }),
  );
  assert.equal(rectified.activation.kind, "topk");
  assert.equal((rectified.activation as { k: number }).k, k);
  const plain = await load(
    "saev",
    files("dicts/saev_topk_negative", { "saeserve.json": '{"topk_rectify": false}' }),
  );
  assert.equal(plain.activation.kind, "topk_signed");
  await rejects(
    load("saev", files("dicts/saev_topk_negative", { "saeserve.json": '{"topk_rectify": 1}' })),
    /topk_rectify must be true or false/,
  );
});
