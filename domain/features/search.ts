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

/** The MiniSearch index of every feature that has explanations (document id = feature). */
export function explanationMiniSearch(set: ExplanationSet): TopKMiniSearch<FeatureDoc> {
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
  for (const [feature, list] of set.byFeature) {
    mini.add({
      id: feature,
      text: list.length === 1 ? list[0].text : list.map((e) => e.text).join("\n"),
    });
  }
  return mini;
}

/** Index every feature that has explanations. */
export function indexExplanations(set: ExplanationSet): ExplanationIndex {
  const mini = explanationMiniSearch(set);
  mini.prepare();
  return {
    size: mini.documentCount,
    search(query: string, options: { top: number }): SearchHit[] {
      if (query.trim() === "") return [];
      return mini.top(query, options).map((h) => ({ feature: h.id, score: h.score }));
    },
  };
}
