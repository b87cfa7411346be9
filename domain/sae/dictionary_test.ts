import assert from "node:assert/strict";
import { type SaeWeights, weightBytes } from "./dictionary.ts";
import { matrix } from "./matrix.ts";

function weights(activation: SaeWeights["activation"], extra?: Partial<SaeWeights>): SaeWeights {
  return {
    dIn: 2,
    dSae: 3,
    wEnc: matrix([2, 3]),
    wDec: matrix([3, 2]),
    bDec: new Float32Array(2),
    preBias: null,
    activation,
    normalization: "none",
    wSkip: null,
    ...extra,
  };
}

Deno.test("weightBytes: every f32 array the dictionary holds, per activation", () => {
  const base = 4 * (6 + 6 + 2);
  const b = new Float32Array(3);
  assert.equal(weightBytes(weights({ kind: "relu", bEnc: b })), base + 12);
  assert.equal(weightBytes(weights({ kind: "topk", bEnc: b, k: 1 })), base + 12);
  assert.equal(weightBytes(weights({ kind: "groupmax", bEnc: b, k: 1 })), base + 12);
  assert.equal(weightBytes(weights({ kind: "topk_signed", bEnc: b, k: 1 })), base + 12);
  assert.equal(weightBytes(weights({ kind: "tanh_relu", bEnc: b })), base + 12);
  assert.equal(weightBytes(weights({ kind: "jumprelu", bEnc: b, threshold: b })), base + 24);
  assert.equal(
    weightBytes(weights({ kind: "gated", bGate: b, magScale: b, bMag: b })),
    base + 36,
  );
});

Deno.test("weightBytes: a pre-bias and a skip connection count too", () => {
  const w = weights({ kind: "relu", bEnc: new Float32Array(3) }, {
    preBias: new Float32Array(2),
    wSkip: matrix([2, 2]),
  });
  assert.equal(weightBytes(w), 4 * (6 + 6 + 2 + 3) + 8 + 16);
});
