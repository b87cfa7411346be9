import assert from "node:assert/strict";
import { FormatError } from "../errors.ts";
import { applyFinalNorm, type HeadNorm, loadHead, parseVocabulary, softmax } from "./head.ts";
import { matrix } from "../sae/matrix.ts";
import { Registry } from "../../service/registry.ts";
import { referenceBackend } from "../../backends/reference/mod.ts";
import { fileStore } from "../../service/store/file.ts";

const DICTS = new URL("../../tests/fixtures/dicts", import.meta.url).pathname;

Deno.test("head: vocab.json lists and tokenizer.json vocab + added tokens give tokens by id", () => {
  assert.deepEqual(parseVocabulary(["a", "b"], "vocab.json"), ["a", "b"]);
  const tok = {
    model: { vocab: { b: 1, a: 0, d: 3 } },
    added_tokens: [{ id: 4, content: "<bos>" }],
  };
  assert.deepEqual(parseVocabulary(tok, "tokenizer.json"), ["a", "b", "<2>", "d", "<bos>"]);
  assert.throws(() => parseVocabulary([1, 2], "vocab.json"), FormatError);
  assert.throws(() => parseVocabulary({ nothing: true }, "tokenizer.json"), /model.vocab/);
});

Deno.test("head: rmsnorm (with Gemma's 1 + w), layernorm and none follow their formulas", () => {
  const x = matrix([1, 4], Float32Array.from([1, 2, 3, 4]));
  const w = Float32Array.from([0.5, 1, 1.5, 2]);
  const base = { weight: w, bias: null, eps: 0 } as const;
  const rms = applyFinalNorm({ ...base, kind: "rmsnorm", gemmaOffset: false } as HeadNorm, x).data;
  const r = Math.sqrt((1 + 4 + 9 + 16) / 4);
  assert.deepEqual(
    [...rms].map((v) => +v.toFixed(5)),
    [1, 2, 3, 4].map((v, i) => +((v / r) * w[i]).toFixed(5)),
  );
  const gemma = applyFinalNorm({ ...base, kind: "rmsnorm", gemmaOffset: true } as HeadNorm, x).data;
  assert.ok(Math.abs(gemma[0] - (1 / r) * 1.5) < 1e-6);
  const ln = applyFinalNorm(
    {
      ...base,
      kind: "layernorm",
      gemmaOffset: false,
      bias: Float32Array.from([1, 1, 1, 1]),
    } as HeadNorm,
    x,
  ).data;
  const sd = Math.sqrt(1.25); // population variance of 1..4
  assert.ok(Math.abs(ln[3] - ((4 - 2.5) / sd * 2 + 1)) < 1e-5);
  assert.deepEqual(
    applyFinalNorm({ ...base, kind: "none", gemmaOffset: false } as HeadNorm, x).data,
    x.data,
  );
});

Deno.test("head: softmax is stable for large logits and sums to one", () => {
  const p = softmax([1000, 1000, 999]);
  assert.ok(Math.abs(p[0] - p[1]) < 1e-15);
  assert.ok(Math.abs(p.reduce((s, v) => s + v, 0) - 1) < 1e-12);
});

Deno.test("head: W_U stored [vocab, d] and [d, vocab] both load as [vocab, d]; heads share the registry budget", async () => {
  const registry = new Registry(fileStore(DICTS), {
    backend: referenceBackend(),
    memoryBudget: 1 << 30,
  });
  try {
    const rms = await registry.acquireHead("head_rms");
    const ln = await registry.acquireHead("head_ln");
    assert.deepEqual([rms.head.wU.rows, rms.head.wU.cols, rms.head.tokens.length], [60, 16, 60]);
    assert.deepEqual([ln.head.wU.rows, ln.head.wU.cols, ln.head.tokens.length], [40, 16, 40]);
    assert.equal(ln.head.tokens[39], "<bos>");
    assert.equal(ln.head.norm.kind, "layernorm");
    assert.ok(ln.head.norm.bias);
    assert.ok(registry.bytesLoaded >= (60 + 40) * 16 * 4);
    rms.release();
    ln.release();
    await assert.rejects(registry.acquireHead("saelens_standard"), /no model head/);
  } finally {
    registry.close();
  }
});

Deno.test("head: a folder without a vocabulary is a FormatError", async () => {
  const folder = {
    files: new Map([["head.json", 2], ["head.safetensors", 8]]),
    open: () => Promise.resolve({ size: 2, stream: () => Promise.reject(new Error("unused")) }),
  };
  await assert.rejects(loadHead(folder), /vocab.json or tokenizer.json|head.json/);
});
