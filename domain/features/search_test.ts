import assert from "node:assert/strict";
import { parseExplanations } from "./explanations.ts";
import { indexExplanations, indexExplanationsInSlices } from "./search.ts";
import { generateExplanations } from "./search_corpus.ts";

const LABELLED: [number, string][] = [
  [0, "pirates, ships and sailing on the open sea"],
  [1, "deception, lying and dishonest statements"],
  [2, "French cuisine and cooking recipes"],
  [3, "weather forecasts, rain and storms"],
  [4, "Python source code and function definitions"],
  [5, "ships in harbours and the cargo they carry"],
  [6, "the word the and other common function words"],
  [7, "cooking times in recipes for bread"],
];

const set = parseExplanations(
  LABELLED.map(([feature, text]) => JSON.stringify({ feature, text })).join("\n"),
  { file: "explanations.jsonl", dSae: 8 },
);
const index = indexExplanations(set);

Deno.test("each query ranks its expected feature first", () => {
  const cases: [string, number][] = [
    ["pirate", 0],
    ["deception", 1],
    ["lying", 1],
    ["French cuisine", 2],
    ["storms", 3],
    ["python function", 4],
    ["cargo", 5],
    ["bread recipes", 7],
    ["decept", 1], // the last word is a prefix
    ["decepton", 1], // a typo in a long word
  ];
  for (const [query, expected] of cases) {
    const hits = index.search(query, { top: 5 });
    assert.equal(hits[0]?.feature, expected, `${query}: ${JSON.stringify(hits)}`);
  }
});

Deno.test("an exact term outranks partial matches; scores descend; top caps the list", () => {
  const hits = index.search("ships", { top: 10 });
  assert.deepEqual(hits.map((h) => h.feature).slice(0, 2).sort(), [0, 5]);
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score);
  assert.equal(index.search("recipes", { top: 1 }).length, 1);
  assert.deepEqual(index.search("   ", { top: 5 }), []);
  assert.deepEqual(index.search("zzzzqqq", { top: 5 }), []);
  assert.equal(index.size, 8);
});

Deno.test("several explanations of one feature are searched together", () => {
  const two = parseExplanations(
    '{"feature": 0, "text": "cats"}\n{"feature": 0, "text": "whiskers"}\n{"feature": 1, "text": "dogs"}',
    { file: "e.jsonl", dSae: 2 },
  );
  const hits = indexExplanations(two).search("whiskers", { top: 5 });
  assert.deepEqual(hits.map((h) => h.feature), [0]);
});

Deno.test("the index built in slices answers exactly as the one built at once", async () => {
  const corpus = generateExplanations(4000, { seed: 9, vocabulary: 800 });
  // Some features explained twice, so documents join several explanations.
  const extra = corpus.jsonl.trimEnd().split("\n").slice(0, 300)
    .map((line, n) => ({ ...JSON.parse(line), feature: 3 * n }));
  const text = `${corpus.jsonl.trimEnd()}\n${extra.map((e) => JSON.stringify(e)).join("\n")}`;
  const set = parseExplanations(text, { file: "e.jsonl", dSae: 4000 });
  const atOnce = indexExplanations(set);
  const sliced = await indexExplanationsInSlices(set, { sliceMs: 0 });
  assert.equal(sliced.size, atOnce.size);
  const words = corpus.vocabulary;
  const queries = [
    ...words.slice(0, 20),
    ...words.slice(200, 210),
    ...words.slice(0, 10).map((w) => w.slice(0, 4)),
    ...words.slice(0, 10).map((w, n) => `${w} ${words[n + 50]}`),
    `${words[3]}q`,
  ];
  let hits = 0;
  for (const q of queries) {
    const expected = atOnce.search(q, { top: 5000 });
    assert.deepEqual(sliced.search(q, { top: 5000 }), expected, q);
    hits += expected.length;
  }
  assert.ok(hits > 10_000, `${hits} hits compared`);
});
