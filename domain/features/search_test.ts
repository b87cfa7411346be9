import assert from "node:assert/strict";
import { parseExplanations } from "./explanations.ts";
import { indexExplanations } from "./search.ts";

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
