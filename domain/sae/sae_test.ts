/**
 * The encode / decode pipeline around the backend, on the reference backend with hand-made
 * weights: codes, reconstructions, errors and metrics worked out by hand; `top` trims only
 * what is returned; skip connections; an exact autoencoder reconstructs its input under every
 * normalization; and the width and sparse-code checks.
 * @module
 */

import assert from "node:assert/strict";
import { checkSparseCodes, decodeRows, encodeRows, expectWidth } from "./sae.ts";
import type { Normalization, SaeWeights } from "./dictionary.ts";
import { matrix, type SparseRows } from "./matrix.ts";
import { SaeError } from "../errors.ts";
import { referenceBackend } from "../../backends/reference/mod.ts";

const f32 = (...v: number[]) => Float32Array.from(v);
const backend = referenceBackend();
const invalid = (message: RegExp) => (e: unknown) =>
  e instanceof SaeError && e.kind === "invalid" && message.test(e.message);

/**
 * d_in 2, d_sae 3, ReLU; b_dec = [0.5, 0] is also subtracted before encoding. For x = [2, 1]:
 * s = [1.5, 1], p = [1.5, 1, -0.5], f = {0: 1.5, 1: 1}, y = 1.5 [1, 0] + [0, 2] + b_dec = [2, 2].
 */
function weights(extra?: Partial<SaeWeights>): SaeWeights {
  return {
    dIn: 2,
    dSae: 3,
    wEnc: matrix([2, 3], f32(1, 0, -1, 0, 1, 1)),
    wDec: matrix([3, 2], f32(1, 0, 0, 2, 1, 1)),
    bDec: f32(0.5, 0),
    preBias: f32(0.5, 0),
    activation: { kind: "relu", bEnc: f32(0, 0, 0) },
    normalization: "none",
    wSkip: null,
    ...extra,
  };
}

const X = () => matrix([1, 2], f32(2, 1));
const rows = (codes: SparseRows) => codes.indices.map((ix, r) => [[...ix], [...codes.values[r]]]);

Deno.test("sae: encodeRows gives codes, reconstruction, error and metrics by hand", async () => {
  const prepared = await backend.prepare(weights());
  const plain = await encodeRows({ backend, prepared }, X());
  assert.deepEqual(rows(plain.codes), [[[0, 1], [1.5, 1]]]);
  assert.equal(plain.reconstruction, undefined);
  const all = await encodeRows({ backend, prepared }, X(), {
    include: new Set(["reconstruction", "error", "metrics"]),
  });
  assert.deepEqual([...all.reconstruction!.data], [2, 2]);
  assert.deepEqual([...all.error!.data], [0, -1]);
  assert.equal(all.metrics!.l0, 2);
  assert.equal(all.metrics!.mse, 0.5);
  const only = await encodeRows({ backend, prepared }, X(), { include: new Set(["error"]) });
  assert.equal(only.reconstruction, undefined, "only what was asked is returned");
  assert.deepEqual([...only.error!.data], [0, -1]);
});

Deno.test("sae: top trims the returned codes but reconstructions use every code", async () => {
  const prepared = await backend.prepare(weights());
  const trimmed = await encodeRows({ backend, prepared }, X(), { top: 1 });
  assert.deepEqual(rows(trimmed.codes), [[[0], [1.5]]]);
  const withRecon = await encodeRows({ backend, prepared }, X(), {
    top: 1,
    include: new Set(["reconstruction", "metrics"]),
  });
  assert.deepEqual(rows(withRecon.codes), [[[0], [1.5]]]);
  assert.deepEqual([...withRecon.reconstruction!.data], [2, 2], "not 1.5 [1, 0] + b_dec");
  assert.equal(withRecon.metrics!.l0, 2, "metrics count the full codes");
});

Deno.test("sae: a skip connection adds x @ W_skip^T to the reconstruction", async () => {
  const prepared = await backend.prepare(weights({ wSkip: matrix([2, 2], f32(1, 0, 0, 0)) }));
  const out = await encodeRows({ backend, prepared }, X(), {
    include: new Set(["reconstruction"]),
  });
  assert.deepEqual([...out.reconstruction!.data], [4, 2]);
  // decodeRows has no input rows, so no skip term.
  const decoded = await decodeRows({ backend, prepared }, out.codes);
  assert.deepEqual([...decoded.data], [2, 2]);
});

Deno.test("sae: an exact autoencoder reconstructs its input under every normalization", async () => {
  // Latents 2j and 2j+1 carry +x_j and -x_j through ReLU; the decoder adds them back.
  const exact = (normalization: Normalization): SaeWeights => ({
    ...weights(),
    dSae: 4,
    wEnc: matrix([2, 4], f32(1, -1, 0, 0, 0, 0, 1, -1)),
    wDec: matrix([4, 2], f32(1, 0, -1, 0, 0, 1, 0, -1)),
    bDec: f32(0, 0),
    preBias: null,
    activation: { kind: "relu", bEnc: f32(0, 0, 0, 0) },
    normalization,
  });
  const x = matrix([3, 2], f32(1, 3, -2, 0.5, 4, 4.25));
  for (const norm of ["none", "constant_norm_rescale", "layer_norm"] as const) {
    const prepared = await backend.prepare(exact(norm));
    const out = await encodeRows({ backend, prepared }, x, { include: new Set(["error"]) });
    out.error!.data.forEach((e, i) => assert.ok(Math.abs(e) < 1e-4, `${norm}: error[${i}] = ${e}`));
  }
  const rescaled = await backend.prepare(exact("constant_norm_rescale"));
  await assert.rejects(
    encodeRows({ backend, prepared: rescaled }, matrix([1, 2])),
    invalid(/all zeros/),
  );
});

Deno.test("sae: decodeRows takes sparse or dense codes to the same rows", async () => {
  const prepared = await backend.prepare(weights());
  const sparse: SparseRows = {
    width: 3,
    indices: [Int32Array.of(2, 0), new Int32Array(0)],
    values: [f32(2, -1), new Float32Array(0)],
  };
  const dense = matrix([2, 3], f32(-1, 0, 2, 0, 0, 0));
  // Row 0: 2 [1, 1] - [1, 0] + b_dec = [1.5, 2]; row 1: b_dec.
  assert.deepEqual([...(await decodeRows({ backend, prepared }, sparse)).data], [1.5, 2, 0.5, 0]);
  assert.deepEqual([...(await decodeRows({ backend, prepared }, dense)).data], [1.5, 2, 0.5, 0]);
  await assert.rejects(
    decodeRows({ backend, prepared }, matrix([1, 4])),
    invalid(/4 columns; .* d_sae = 3/),
  );
});

Deno.test("sae: widths and sparse codes are checked", async () => {
  expectWidth(matrix([1, 2]), 2);
  assert.throws(
    () => expectWidth(matrix([1, 3]), 2),
    invalid(/3 columns; this dictionary has d_in = 2/),
  );
  const prepared = await backend.prepare(weights());
  await assert.rejects(encodeRows({ backend, prepared }, matrix([1, 5])), invalid(/d_in = 2/));
  const codes = (indices: number[][], values: number[][]): SparseRows => ({
    width: 3,
    indices: indices.map((r) => Int32Array.from(r)),
    values: values.map((r) => Float32Array.from(r)),
  });
  checkSparseCodes(codes([[0, 2]], [[1, 1]]), 3);
  assert.throws(() => checkSparseCodes(codes([[0], [1]], [[1]]), 3), invalid(/2 rows, values 1/));
  assert.throws(
    () => checkSparseCodes(codes([[0, 1]], [[1]]), 3),
    invalid(/row 0: 2 indices but 1 values/),
  );
  assert.throws(
    () => checkSparseCodes(codes([[3]], [[1]]), 3),
    invalid(/index 3 outside \[0, 3\)/),
  );
  assert.throws(() => checkSparseCodes(codes([[-1]], [[1]]), 3), invalid(/index -1/));
  await assert.rejects(decodeRows({ backend, prepared }, codes([[7]], [[1]])), invalid(/outside/));
});

Deno.test("checkSparseCodes: a NaN or infinite value is a 422 naming the row and feature", () => {
  for (const bad of [NaN, Infinity]) {
    const codes: SparseRows = {
      indices: [Int32Array.of(0, 2)],
      values: [Float32Array.of(1, bad)],
      width: 4,
    };
    assert.throws(
      () => checkSparseCodes(codes, 4),
      (e) =>
        e instanceof SaeError && e.kind === "invalid" &&
        /row 0: value .* feature 2/.test(e.message),
    );
  }
});
