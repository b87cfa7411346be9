/**
 * Text search over a dictionary's explanations: one document per feature (its explanations
 * joined), ranked by BM25+ through MiniSearch. The last query term, from 4 letters, also
 * matches as a prefix ("decept" finds "deception"); terms of 6 letters or more tolerate one
 * typo; common English function words are not indexed. Queries return MiniSearch's own scores
 * and ranking, computed for the best `top` only (search_topk.ts): a common word among 1M
 * explanations answers in milliseconds rather than seconds.
 * @module
 */

import type { ExplanationSet } from "./explanations.ts";
import { runAtOnce, runInSlices, type Steps } from "./search_slices.ts";
import { TopKMiniSearch } from "./search_topk.ts";

/** One feature found by a query. */
export interface SearchHit {
  readonly feature: number;
  /** BM25+ relevance (higher is better; comparable within one index only). */
  readonly score: number;
}

/** Words too common in explanations to rank by (every posting list would be scanned). */
const STOP_WORDS = new Set([
  "a",
  "an",
  "and",
  "are",
  "as",
  "at",
  "be",
  "by",
  "for",
  "from",
  "in",
  "is",
  "it",
  "its",
  "of",
  "on",
  "or",
  "that",
  "the",
  "this",
  "to",
  "with",
]);

/** MiniSearch's default weights and BM25+ parameters, stated so both search paths read them. */
const SCORING = {
  weights: { fuzzy: 0.45, prefix: 0.375 },
  maxFuzzy: 6,
  bm25: { k: 1.2, b: 0.7, d: 0.5 },
} as const;

/** What MiniSearch indexes of a feature: its explanations joined. */
export interface FeatureDoc {
  readonly id: number;
  readonly text: string;
}

/** A search index over one dictionary's explanations. */
export interface ExplanationIndex {
  /** Up to `top` features, best first (ties: lower feature first). */
  search(query: string, options: { top: number }): SearchHit[];
  /** Number of features indexed. */
  readonly size: number;
}

/** Features added to the index between two yields of {@link explanationSteps}. */
const FEATURES_PER_STEP = 32;

/** The MiniSearch index of every feature that has explanations (document id = feature). */
export function explanationMiniSearch(set: ExplanationSet): TopKMiniSearch<FeatureDoc> {
  return runAtOnce(miniSearchSteps(set));
}

/** {@link explanationMiniSearch} as steps of a few dozen features each (search_slices.ts). */
export function* miniSearchSteps(set: ExplanationSet): Steps<TopKMiniSearch<FeatureDoc>> {
  const mini = new TopKMiniSearch<FeatureDoc>({
    fields: ["text"],
    storeFields: [],
    processTerm: (term) => {
      const t = term.toLowerCase();
      return STOP_WORDS.has(t) ? null : t;
    },
    searchOptions: {
      prefix: (term, i, terms) => i === terms.length - 1 && term.length >= 4,
      fuzzy: (term) => (term.length >= 6 ? 1 : false),
      ...SCORING,
    },
  });
  let added = 0;
  for (const [feature, list] of set.byFeature) {
    mini.add({
      id: feature,
      text: list.length === 1 ? list[0].text : list.map((e) => e.text).join("\n"),
    });
    if (++added % FEATURES_PER_STEP === 0) yield;
  }
  return mini;
}

/** {@link indexExplanations} as steps of about a millisecond each (search_slices.ts). */
export function* explanationSteps(set: ExplanationSet): Steps<ExplanationIndex> {
  const mini = yield* miniSearchSteps(set);
  yield* mini.prepareSteps();
  return indexOver(mini);
}

/** Index every feature that has explanations, at once. */
export function indexExplanations(set: ExplanationSet): ExplanationIndex {
  return runAtOnce(explanationSteps(set));
}

/**
 * Index every feature that has explanations in slices of `sliceMs` (default 10 ms), giving
 * the event loop a turn between them: a million explanations take half a minute to index, and
 * the thread that builds them also answers requests. The index equals {@link indexExplanations}'.
 */
export function indexExplanationsInSlices(
  set: ExplanationSet,
  options: { sliceMs?: number } = {},
): Promise<ExplanationIndex> {
  return runInSlices(explanationSteps(set), options);
}

/** The index over a built and prepared MiniSearch. */
function indexOver(mini: TopKMiniSearch<FeatureDoc>): ExplanationIndex {
  return {
    size: mini.documentCount,
    search(query: string, options: { top: number }): SearchHit[] {
      if (query.trim() === "") return [];
      return mini.top(query, options).map((h) => ({ feature: h.id, score: h.score }));
    },
  };
}
