import assert from "node:assert/strict";
import {
  emptyExplanations,
  explanationFileOf,
  explanationText,
  neuronpediaIdOf,
  neuronpediaLink,
  parseExplanations,
  parseExplanationsInSlices,
  storedStatistics,
} from "./explanations.ts";
import { generateExplanations } from "./search_corpus.ts";

const NEURONPEDIA = [
  {
    modelId: "gemma-2-2b",
    layer: "20-gemmascope-res-16k",
    index: "3",
    description: "pirate ships",
    explanationModelName: "gpt-4o-mini",
    typeName: "oai_token-act-pair",
  },
  { modelId: "gemma-2-2b", layer: "20-gemmascope-res-16k", index: "3", description: "sailors" },
  { modelId: "gemma-2-2b", layer: "20-gemmascope-res-16k", index: 7, description: "deception" },
];

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("Neuronpedia's export: several per feature, other fields kept as metadata", () => {
  const set = parseExplanations(JSON.stringify(NEURONPEDIA), {
    file: "explanations.json",
    dSae: 16,
  });
  assert.equal(set.count, 3);
  assert.deepEqual(set.warnings, []);
  assert.deepEqual(set.byFeature.get(3)!.map((e) => e.text), ["pirate ships", "sailors"]);
  assert.equal(set.byFeature.get(3)![0].metadata!.explanationModelName, "gpt-4o-mini");
  assert.equal(set.byFeature.get(3)![0].metadata!.layer, "20-gemmascope-res-16k");
  assert.equal(set.byFeature.get(3)![0].metadata!.index, undefined);
  assert.equal(set.byFeature.get(7)![0].text, "deception");
});

Deno.test("the same export as JSON Lines and gzipped reads the same", async () => {
  const lines = NEURONPEDIA.map((e) => JSON.stringify(e)).join("\n") + "\n";
  const fromLines = parseExplanations(lines, { file: "explanations.jsonl", dSae: 16 });
  const text = await explanationText(await gzip(JSON.stringify(NEURONPEDIA)), {
    file: "explanations.json.gz",
  });
  const fromGz = parseExplanations(text, { file: "explanations.json.gz", dSae: 16 });
  for (const set of [fromLines, fromGz]) {
    assert.equal(set.count, 3);
    assert.deepEqual([...set.byFeature.keys()].sort(), [3, 7]);
    assert.deepEqual(set.warnings, []);
  }
});

Deno.test('an object wrapping the list under "explanations" reads the same; a negative index is out of range', () => {
  const wrapped = parseExplanations(JSON.stringify({ explanations: NEURONPEDIA, version: 2 }), {
    file: "explanations.json",
    dSae: 16,
  });
  assert.equal(wrapped.count, 3);
  assert.deepEqual(wrapped.warnings, []);
  // The list first (read in steps) or after other keys, with arrays after it: the same entries.
  for (
    const doc of [
      { explanations: NEURONPEDIA },
      { explanations: NEURONPEDIA, tags: ["a", "b"], nested: { list: [1, [2]] } },
      { version: 2, explanations: NEURONPEDIA },
    ]
  ) {
    const set = parseExplanations(JSON.stringify(doc, null, 1), { file: "e.json", dSae: 16 });
    assert.equal(set.count, 3, JSON.stringify(doc).slice(0, 40));
    assert.deepEqual(set.warnings, []);
  }
  // One JSON Lines entry is an entry, not a wrapper.
  const one = parseExplanations('{"index": 2, "description": "x", "explanations": []}\n', {
    file: "explanations.jsonl",
    dSae: 4,
  });
  assert.equal(one.count, 1);
  const negative = parseExplanations('{"index": "-1", "description": "x"}\n', {
    file: "explanations.jsonl",
    dSae: 4,
  });
  assert.deepEqual(negative.warnings, ["explanations.jsonl: line 1: feature -1 is outside [0, 4)"]);
});

Deno.test("the minimal form: {feature, text} lines", () => {
  const set = parseExplanations(
    '{"feature": 0, "text": "cats"}\n{"feature": 0, "text": "dogs"}\n\n{"feature": 2, "text": "rain"}\n',
    { file: "explanations.jsonl", dSae: 4 },
  );
  assert.equal(set.count, 3);
  assert.deepEqual(set.byFeature.get(0), [{ feature: 0, text: "cats" }, {
    feature: 0,
    text: "dogs",
  }]);
});

Deno.test("malformed, incomplete and out-of-range entries are skipped with warnings", () => {
  const set = parseExplanations(
    [
      '{"feature": 1, "text": "ok"}',
      "{not json",
      '{"text": "no index"}',
      '{"feature": 2}',
      '{"feature": 99, "text": "too far"}',
      '{"feature": -1, "text": "negative"}',
      '{"feature": 1.5, "text": "fractional"}',
      "[1, 2]",
    ].join("\n"),
    { file: "explanations.jsonl", dSae: 8 },
  );
  assert.equal(set.count, 1);
  assert.equal(set.warnings.length, 7);
  assert.match(set.warnings[0], /^explanations\.jsonl: line 2: not valid JSON/);
  assert.match(set.warnings[1], /line 3: no feature index/);
  assert.match(set.warnings[2], /line 4: no text/);
  assert.match(set.warnings[3], /line 5: feature 99 is outside \[0, 8\)/);
  assert.match(set.warnings[4], /line 6: feature -1 is outside/);
  assert.match(set.warnings[5], /line 7: no feature index/);
  assert.match(set.warnings[6], /line 8: not an object/);
});

Deno.test("a broken JSON array is one warning; many warnings are counted, not listed", () => {
  const broken = parseExplanations('[{"index": "1", "description": "x"', {
    file: "explanations.json",
    dSae: 4,
  });
  assert.equal(broken.count, 0);
  assert.equal(broken.warnings.length, 1);
  assert.match(broken.warnings[0], /not valid JSON/);
  const many = parseExplanations("x\n".repeat(25), { file: "e.jsonl", dSae: 4 });
  assert.equal(many.warnings.length, 11);
  assert.equal(many.warnings[10], "e.jsonl: and 15 more entries skipped");
});

Deno.test("a gzip file over the size limit, or not gzip at all, is refused", async () => {
  await assert.rejects(
    explanationText(await gzip("x".repeat(1000)), { file: "e.json.gz", maxBytes: 100 }),
    RangeError,
  );
  await assert.rejects(explanationText(new Uint8Array([1, 2, 3]), { file: "e.json.gz" }));
});

Deno.test("file choice, Neuronpedia links and stored statistics", () => {
  assert.equal(explanationFileOf(["cfg.json", "explanations.jsonl"]), "explanations.jsonl");
  assert.equal(
    explanationFileOf(["explanations.jsonl", "explanations.json"]),
    "explanations.json",
  );
  assert.equal(explanationFileOf(["cfg.json"]), undefined);
  const id = neuronpediaIdOf({ neuronpedia_id: "gemma-2-2b/20-gemmascope-res-16k" });
  assert.equal(id, "gemma-2-2b/20-gemmascope-res-16k");
  assert.equal(neuronpediaIdOf({ metadata: { neuronpedia_id: "m/l" } }), "m/l");
  assert.equal(neuronpediaIdOf({ neuronpedia_id: "../../evil" }), undefined);
  const set = parseExplanations('{"feature": 5, "text": "t", "density": 0.01}', {
    file: "e.jsonl",
    dSae: 8,
    neuronpediaId: id,
  });
  assert.equal(
    neuronpediaLink(set, 5),
    "https://www.neuronpedia.org/gemma-2-2b/20-gemmascope-res-16k/5",
  );
  assert.equal(neuronpediaLink(emptyExplanations(), 5), undefined);
  assert.deepEqual(storedStatistics(set.byFeature.get(5)!), { density: 0.01 });
  assert.equal(storedStatistics([]), undefined);
});

Deno.test("an array is split into its values exactly as JSON.parse reads it", () => {
  const tricky = [
    'quotes " and \\" and \\\\',
    "brackets ] } [ { and commas , inside",
    "unicode \u00e9\u4e2d \ud83d\ude00 and \u0000",
    "\\",
  ];
  const entries = tricky.map((description, i) => ({
    index: String(i),
    description,
    nested: { list: [1, [2, { x: "]" }]], empty: {} },
    n: -1.5e-7,
  }));
  const text = ` \n[\n${entries.map((e) => JSON.stringify(e, null, i(e))).join(" ,\n")} ]\n `;
  const set = parseExplanations(text, { file: "explanations.json", dSae: 8 });
  assert.deepEqual(set.warnings, []);
  // The reference: the whole text through JSON.parse.
  const expected = (JSON.parse(text) as typeof entries).map(({ index, description, ...rest }) => ({
    feature: Number(index),
    text: description.trim(),
    metadata: rest,
  }));
  assert.deepEqual([...set.byFeature.values()].flat(), expected);
  assert.equal(parseExplanations("[ ]", { file: "e.json", dSae: 1 }).count, 0);
  assert.deepEqual(parseExplanations("[ ]", { file: "e.json", dSae: 1 }).warnings, []);
});

/** Indentation of the n-th entry (some on one line, some spread over several). */
function i(e: { index: string }): number {
  return Number(e.index) % 2 ? 2 : 0;
}

Deno.test("a malformed array gets JSON.parse's own message, whatever is wrong", () => {
  const broken = [
    '[{"index": 1, "description": "a"},]',
    "[,]",
    '[{"index": 1, "description": "a"} {"index": 2}]',
    '[{"index": 1, "description": "a"}] trailing',
    '[{"index": 1, "description": "unterminated]',
    '[{"index": 1}}]',
    '[{"index": [1, 2}]',
    '[{"index": 1, "description": "a"}',
    "[1,,2]",
  ];
  for (const text of broken) {
    let message = "";
    try {
      JSON.parse(text);
    } catch (e) {
      message = (e as Error).message;
    }
    assert.notEqual(message, "", text);
    const set = parseExplanations(text, { file: "e.json", dSae: 4 });
    assert.equal(set.count, 0, text);
    assert.deepEqual(set.warnings, [`e.json: not valid JSON (${message}); no explanations read`]);
  }
});

Deno.test("parsing in slices gives the same set as parsing at once", async () => {
  const { jsonl } = generateExplanations(3000, { seed: 5, vocabulary: 500 });
  const lines =
    `${jsonl.trimEnd()}\n{"feature": 3, "text": "again"}\nnot json\n{"feature": 9999}\n`;
  const array = `[${jsonl.trimEnd().split("\n").join(",")}]`;
  const counts = [];
  for (const [text, file] of [[lines, "e.jsonl"], [array, "e.json"]]) {
    const options = { file, dSae: 3000, neuronpediaId: "m/l" };
    const sliced = await parseExplanationsInSlices(text, { ...options, sliceMs: 0 });
    const atOnce = parseExplanations(text, options);
    assert.deepEqual(sliced, atOnce);
    counts.push(atOnce.count);
  }
  assert.ok(counts[1] > 2900);
  assert.equal(counts[0], counts[1] + 1);
});
