import assert from "node:assert/strict";
import { seededRandom, shuffled } from "../random.ts";
import type { Explanation, ExplanationSet } from "./explanations.ts";
import { parseExplanations } from "./explanations.ts";
import { explanationMiniSearch } from "./search.ts";
import { generateExplanations } from "./search_corpus.ts";
import { BLOCK } from "./search_blocks.ts";
import { TopHeap } from "../sae/top_heap.ts";
import { TopKMiniSearch } from "./search_topk.ts";

const COUNT = 40_000; // over two blocks of search_blocks.ts
const corpus = generateExplanations(COUNT, { seed: 7, vocabulary: 3000 });
const parsed = parseExplanations(corpus.jsonl, { file: "e.jsonl", dSae: COUNT });

/** The corpus under shuffled feature numbers (ids unlike insertion order), some features twice. */
function shuffledSet(): ExplanationSet {
  const features = shuffled([...Array(COUNT * 2).keys()], seededRandom(3)).slice(0, COUNT);
  const byFeature = new Map<number, Explanation[]>();
  for (const [i, list] of parsed.byFeature) {
    const feature = features[i % (COUNT - 3000)];
    const kept = byFeature.get(feature) ?? [];
    byFeature.set(feature, [...kept, ...list.map((e) => ({ ...e, feature }))]);
  }
  return { byFeature, count: COUNT, warnings: [] };
}

const { vocabulary, documentFrequency } = corpus;
const byFrequency = (lo: number, hi: number) =>
  vocabulary.filter((_, r) =>
    documentFrequency[r] >= lo * COUNT && documentFrequency[r] < hi * COUNT
  );
const common = byFrequency(0.05, 1);
const percent = byFrequency(0.008, 0.03);
const rare = byFrequency(0, 0.001).filter((w, r) => documentFrequency[r] > 0 && w.length >= 6);

/** Queries of every kind the service sees. */
function queries(): string[] {
  const rand = seededRandom(11);
  const pick = (list: readonly string[]) => list[Math.floor(rand() * list.length)];
  const typo = (w: string) => {
    const at = 1 + Math.floor(rand() * (w.length - 2));
    return w.slice(0, at) + (w[at] === "q" ? "x" : "q") + w.slice(at + 1);
  };
  const out = [...common.slice(0, 6), ...percent.slice(0, 6), ...rare.slice(0, 6)];
  for (let i = 0; i < 5; i++) {
    out.push(`${pick(common)} ${pick(common)}`);
    out.push(`${pick(percent)} and ${pick(common)}`);
    out.push(pick(common).slice(0, 4), pick(percent).slice(0, 5));
    out.push(typo(pick(common.filter((w) => w.length >= 6))), typo(pick(rare)));
    out.push(`the ${pick(percent)} of ${pick(common)} ${pick(rare).slice(0, 4)}`);
    out.push(`${pick(rare)}, ${pick(percent)}; ${typo(pick(rare))} ${pick(common)}`);
  }
  const w = pick(common);
  out.push(`${w} ${pick(percent)} ${w}`, `${w.slice(0, 4)} x ${w.slice(0, 4)}`, w.toUpperCase());
  out.push("the of and", "zzzzqqq", "", "  ", `${pick(rare)} zzzzqqq`);
  out.push(vocabulary.slice(1000, 1040).join(" ")); // 40 distinct terms: the fallback path
  out.push(vocabulary.slice(1000, 1032).join(" ")); // 32: the last quality bit
  return out;
}

/** MiniSearch's full search, ordered as the service orders (score, then lower feature). */
function reference<T>(mini: TopKMiniSearch<T>, query: string) {
  return mini.search(query)
    .map((h) => ({ id: h.id as number, score: h.score }))
    .sort((a, b) => b.score - a.score || a.id - b.id);
}

for (const [name, set] of [["one explanation each", parsed], ["shuffled ids", shuffledSet()]]) {
  Deno.test(`top equals MiniSearch's full search bit for bit (${name})`, () => {
    const mini = explanationMiniSearch(set as ExplanationSet);
    assert.ok(mini.documentCount > BLOCK, "the documents span two blocks");
    let compared = 0;
    for (const query of queries()) {
      const full = reference(mini, query);
      // Every hit where there are few, the first 2000 where there are many.
      for (const top of [1, 10, 100, Math.min(full.length + 5, 2000)]) {
        const fast = mini.top(query, { top });
        assert.deepEqual(fast, full.slice(0, top), `${JSON.stringify(query)} top ${top}`);
        compared += fast.length;
      }
    }
    assert.ok(compared > 100_000, `compared only ${compared} hits`);
  });
}

Deno.test("the queries reach common, 1% and rare words, prefixes and typos", () => {
  const mini = explanationMiniSearch(parsed);
  assert.ok(common.length >= 4 && percent.length >= 10 && rare.length >= 10);
  assert.ok(reference(mini, common[0]).length > 0.05 * COUNT);
  // A prefix and a typo match terms the exact word does not.
  const word = common.find((w) => w.length >= 6)!;
  assert.ok(
    reference(mini, word.slice(0, 4)).length > reference(mini, word.slice(0, 4) + "q").length,
  );
  const typo = word.slice(0, 2) + "q" + word.slice(3);
  assert.ok(reference(mini, typo).length > 0);
});

Deno.test("TopHeap keeps the best pairs, ties to the lower id", () => {
  const rand = seededRandom(5);
  for (const capacity of [0, 1, 7, 50]) {
    const pairs: [number, number][] = Array.from(
      { length: 300 },
      (_, i) => [Math.floor(rand() * 20) / 4, i * 7 % 301],
    );
    const heap = new TopHeap(capacity);
    for (const [score, id] of pairs) if (heap.admits(score, id)) heap.push(score, id);
    const expected = [...pairs].sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, capacity);
    assert.deepEqual(heap.sorted(), expected);
    assert.equal(heap.size, expected.length);
  }
});

Deno.test("added, discarded and boosted documents: still MiniSearch's ranking", async () => {
  const lines = corpus.jsonl.split("\n").slice(0, 3000).map((l) => JSON.parse(l));
  const make = (options: { boost?: boolean } = {}) => {
    const mini = new TopKMiniSearch<{ id: number; text: string }>({
      fields: ["text"],
      searchOptions: {
        prefix: true,
        fuzzy: 0.2,
        boostDocument: options.boost ? (id) => 1 + (id % 3) : undefined,
      },
    });
    mini.addAll(lines.slice(0, 2000).map((l) => ({ id: l.feature, text: l.text })));
    return mini;
  };
  const words = [common[0], percent[1], `${percent[2]} ${common[1]}`, common[2].slice(0, 4)];
  const check = (mini: TopKMiniSearch<{ id: number; text: string }>) => {
    for (const q of words) {
      assert.deepEqual(mini.top(q, { top: 50 }), reference(mini, q).slice(0, 50), q);
    }
  };
  const mini = make();
  check(mini);
  mini.addAll(lines.slice(2000).map((l) => ({ id: l.feature, text: l.text })));
  check(mini); // the arrays are rebuilt for the new documents
  // Discarded documents (until a vacuum, top() is MiniSearch's search, whose scores then change
  // from call to call as it drops the postings it meets); vacuumed, top's own path again.
  for (let id = 0; id < 300; id += 3) mini.discard(id);
  await mini.vacuum();
  check(mini);
  check(make({ boost: true })); // a document boost: MiniSearch's own search
});
