/**
 * Text search over a dictionary's explanations: one document per feature (its explanations
 * joined), ranked by BM25+ through MiniSearch. The last query term, from 4 letters, also
 * matches as a prefix ("decept" finds "deception"); terms of 6 letters or more tolerate one
 * typo; common English function words are not indexed.
 * @module
 */

import MiniSearch from "minisearch";
import type { ExplanationSet } from "./explanations.ts";

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

interface FeatureDoc {
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

/** Index every feature that has explanations. */
export function indexExplanations(set: ExplanationSet): ExplanationIndex {
  const mini = new MiniSearch<FeatureDoc>({
    fields: ["text"],
    storeFields: [],
    processTerm: (term) => {
      const t = term.toLowerCase();
      return STOP_WORDS.has(t) ? null : t;
    },
    searchOptions: {
      prefix: (term, i, terms) => i === terms.length - 1 && term.length >= 4,
      fuzzy: (term) => (term.length >= 6 ? 1 : false),
    },
  });
  const docs: FeatureDoc[] = [];
  for (const [feature, list] of set.byFeature) {
    docs.push({ id: feature, text: list.map((e) => e.text).join("\n") });
  }
  mini.addAll(docs);
  return {
    size: docs.length,
    search(query: string, options: { top: number }): SearchHit[] {
      if (query.trim() === "") return [];
      const hits = mini.search(query);
      hits.sort((a, b) => b.score - a.score || (a.id as number) - (b.id as number));
      return hits.slice(0, options.top).map((h) => ({ feature: h.id as number, score: h.score }));
    },
  };
}
