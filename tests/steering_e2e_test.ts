/**
 * End to end, with a real (tiny) transformer written here: the caller runs its model to the
 * dictionary's hook, asks saeserve for steered activations, finishes the forward pass itself,
 * and sends back next-token logits for output scores. Steering the prompt with the feature of
 * highest output score then moves the next-token distribution toward that feature's
 * logit-lens tokens; the feature of lowest score does not move it toward its own.
 * @module
 */

import assert from "node:assert/strict";
import { applyFinalNorm, type ModelHead, softmax } from "../domain/features/head.ts";
import { matrix } from "../domain/sae/matrix.ts";
import { gaussian, seededRandom } from "../domain/random.ts";
import { postJson, testApp } from "./helpers.ts";

const ID = "steer_rms"; // SAELens dictionary at blocks.1.hook_resid_post of a d=16 model, head "head_rms"

type Mat = number[][];
const randMat = (rows: number, cols: number, scale: number, g: () => number): Mat =>
  Array.from({ length: rows }, () => Array.from({ length: cols }, () => g() * scale));
const matmul = (a: Mat, b: Mat): Mat =>
  a.map((r) => b[0].map((_, j) => r.reduce((s, v, k) => s + v * b[k][j], 0)));
const rms = (x: number[]) => {
  const s = Math.sqrt(x.reduce((t, v) => t + v * v, 0) / x.length + 1e-6);
  return x.map((v) => v / s);
};

/** A pre-norm transformer block: causal single-head attention and a ReLU MLP, both residual. */
interface Block {
  q: Mat;
  k: Mat;
  v: Mat;
  o: Mat;
  up: Mat;
  down: Mat;
}

function makeBlock(d: number, g: () => number): Block {
  const s = 0.3 / Math.sqrt(d);
  return {
    q: randMat(d, d, s, g),
    k: randMat(d, d, s, g),
    v: randMat(d, d, s, g),
    o: randMat(d, d, s, g),
    up: randMat(d, 4 * d, s, g),
    down: randMat(4 * d, d, s, g),
  };
}

function runBlock(x: Mat, b: Block): Mat {
  const h = x.map(rms);
  const q = matmul(h, b.q);
  const k = matmul(h, b.k);
  const v = matmul(h, b.v);
  const d = x[0].length;
  const attn = q.map((qi, i) => {
    const scores = k.slice(0, i + 1).map((kj) =>
      kj.reduce((s, e, c) => s + e * qi[c], 0) / Math.sqrt(d)
    );
    const p = softmax(scores);
    return v[0].map((_, c) => v.slice(0, i + 1).reduce((s, vj, j) => s + p[j] * vj[c], 0));
  });
  const x1 = x.map((r, i) => r.map((e, c) => e + matmul([attn[i]], b.o)[0][c]));
  const mlp = matmul(matmul(x1.map(rms), b.up).map((r) => r.map((e) => Math.max(0, e))), b.down);
  return x1.map((r, i) => r.map((e, c) => e + mlp[i][c]));
}

/** Next-token probabilities at the last position: the rest of the model after the hook. */
function finish(resid: Mat, head: ModelHead, rest: Block): Float64Array {
  const out = runBlock(resid, rest);
  const last = out[out.length - 1];
  const normed = applyFinalNorm(head.norm, matrix([1, last.length], Float32Array.from(last)));
  const logits = new Float64Array(head.vocab);
  for (let t = 0; t < head.vocab; t++) {
    let s = 0;
    for (let c = 0; c < head.dModel; c++) s += head.wU.data[t * head.dModel + c] * normed.data[c];
    logits[t] = s;
  }
  return softmax(logits);
}

Deno.test("e2e: output scores from a real forward pass pick the feature that steers toward its tokens", async () => {
  const { app, registry } = testApp();
  const headLease = await registry.acquireHead("head_rms");
  try {
    const head = headLease.head;
    const d = head.dModel;
    const g = gaussian(seededRandom(2025));
    const embed = randMat(head.vocab, d, 1, g);
    const [first, rest] = [makeBlock(d, g), makeBlock(d, g)];
    const prompt = [3, 17, 42, 8, 25]; // a "neutral prompt"
    // The model up to the hook, then `rest` (one more block, the final norm, the unembedding).
    const resid = runBlock(prompt.map((t) => embed[t]), first);

    const dict = await (await app.request(`/v1/dictionaries/${ID}`)).json();
    const features = Array.from({ length: dict.d_sae }, (_, i) => i);
    // Step 1: saeserve builds the steered last-position activation for every feature.
    const prepared = await postJson(app, {
      path: `/v1/dictionaries/${ID}/features/output-score/prepare`,
      body: {
        activations: resid[resid.length - 1],
        features,
      },
    });
    assert.equal(prepared.status, 200);
    const steeredRows: Mat = (await prepared.json()).activations;
    // Step 2: the caller finishes its forward pass and sends next-token logits back.
    const logits = steeredRows.map((row) => {
      const probs = finish([...resid.slice(0, -1), row], head, rest);
      return Array.from(probs, (p) => Math.log(p));
    });
    const scored = await postJson(app, {
      path: `/v1/dictionaries/${ID}/features/output-score`,
      body: {
        features,
        logits,
      },
    });
    assert.equal(scored.status, 200);
    const { scores } = await scored.json();
    const ranked = [...scores].sort((a, b) => b.score - a.score);
    const lens = await (await postJson(app, {
      path: `/v1/dictionaries/${ID}/features/logit-lens`,
      body: { features },
    }))
      .json();
    const tokensOf = (f: number) => lens.features[f].tokens.slice(0, 3) as { id: number }[];
    const base = finish(resid, head, rest);
    // Probability of a feature's three most likely logit-lens tokens.
    const mass = (p: Float64Array, f: number) => tokensOf(f).reduce((s, t) => s + p[t.id], 0);
    // The best-scoring feature whose tokens the prompt does not already predict, and the worst.
    const hiEntry = ranked.find((r) => mass(base, r.feature) < 0.3)!;
    const loEntry = ranked[ranked.length - 1];
    const [hi, lo] = [hiEntry.feature, loEntry.feature];
    assert.ok(hiEntry.score > 2 * loEntry.score, JSON.stringify([hiEntry, loEntry]));

    // Steer the prompt's last position with each (f_i += 10 * max_j f_j) and compare how much
    // next-token probability moves onto the feature's own top logit-lens tokens.
    const gain = async (feature: number) => {
      const res = await postJson(app, {
        path: `/v1/dictionaries/${ID}/steer`,
        body: {
          activations: resid,
          interventions: [{
            feature,
            mode: "add",
            value: 10,
            relative: true,
            positions: [resid.length - 1],
          }],
        },
      });
      const steered: Mat = (await res.json()).activations;
      return mass(finish(steered, head, rest), feature) - mass(base, feature);
    };
    const gainHi = await gain(hi);
    const gainLo = await gain(lo);
    assert.ok(
      gainHi > 0.5,
      `feature ${hi} (score ${hiEntry.score}) moved ${gainHi} onto its tokens`,
    );
    assert.ok(
      gainLo < gainHi / 3,
      `low-score feature ${lo} moved ${gainLo} (high moved ${gainHi})`,
    );
  } finally {
    headLease.release();
    registry.close();
  }
});
