/**
 * Generated explanations for the search tests and benchmark: pseudo-words drawn with Zipf-like
 * frequencies (rank r has weight 1/(r+1)), so a few words are in a tenth or more of the
 * explanations, dozens in 1-2% and most in a handful; every stem comes with plural and verb
 * forms ("palo", "palos", "paloing", "paloed") so prefixes and typos have neighbours, and a
 * quarter of the words are stop words. Deterministic for a seed (domain/random.ts).
 * @module
 */

import { type Random, seededRandom } from "../random.ts";

/** Stop words mixed into the text (the index drops them). */
const FILLER = ["the", "of", "and", "to", "in", "a", "with", "that"];
const ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "tr", "st"];
const VOWELS = ["a", "e", "i", "o", "u", "ai", "ou"];
const SUFFIXES = ["", "s", "ing", "ed"];

/** A generated explanation file and what the queries need to know about it. */
export interface GeneratedExplanations {
  /** JSON Lines, one `{"feature": i, "text": ...}` per explanation, feature i = line i. */
  readonly jsonl: string;
  /** The content words, most frequent first. */
  readonly vocabulary: readonly string[];
  /** Explanations holding each vocabulary word (same order). */
  readonly documentFrequency: Int32Array;
}

/** `n` distinct pseudo-words of 2-3 syllables, stems of the vocabulary. */
function stems(n: number, rand: Random): string[] {
  const seen = new Set<string>([...FILLER]);
  const out: string[] = [];
  const pick = (list: readonly string[]) => list[Math.floor(rand() * list.length)];
  while (out.length < n) {
    const syllables = 2 + (rand() < 0.4 ? 1 : 0);
    let word = "";
    for (let s = 0; s < syllables; s++) word += pick(ONSETS) + pick(VOWELS);
    if (rand() < 0.3) word += pick(["n", "r", "s", "t", "x"]);
    const forms = SUFFIXES.map((suffix) => word + suffix);
    if (forms.some((f) => seen.has(f))) continue;
    for (const f of forms) seen.add(f);
    out.push(word);
  }
  return out;
}

/** Cumulative Zipf weights 1/(r+1) over `n` ranks, normalised to end at 1. */
function zipfCdf(n: number): Float64Array {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let r = 0; r < n; r++) cdf[r] = total += 1 / (r + 1);
  for (let r = 0; r < n; r++) cdf[r] /= total;
  return cdf;
}

/** The first rank whose cumulative weight reaches `u`. */
function rankOf(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `count` explanations of `words` words each (default 8) over a vocabulary of `vocabulary`
 * content words (default 40,000), seeded by `seed`.
 */
export function generateExplanations(
  count: number,
  options: { seed: number; words?: number; vocabulary?: number },
): GeneratedExplanations {
  const rand = seededRandom(options.seed);
  const words = options.words ?? 8;
  const size = options.vocabulary ?? 40_000;
  const base = stems(Math.ceil(size / SUFFIXES.length), rand);
  // Rank r is stem r/4 with suffix r%4: a stem's forms sit side by side in frequency.
  const vocabulary = Array.from(
    { length: size },
    (_, r) => base[Math.floor(r / SUFFIXES.length)] + SUFFIXES[r % SUFFIXES.length],
  );
  const cdf = zipfCdf(size);
  const documentFrequency = new Int32Array(size);
  const lastSeen = new Int32Array(size).fill(-1);
  const lines: string[] = new Array(count);
  const text: string[] = new Array(words);
  for (let i = 0; i < count; i++) {
    for (let w = 0; w < words; w++) {
      if (rand() < 0.25) {
        text[w] = FILLER[Math.floor(rand() * FILLER.length)];
        continue;
      }
      const r = rankOf(cdf, rand());
      text[w] = vocabulary[r];
      if (lastSeen[r] !== i) {
        lastSeen[r] = i;
        documentFrequency[r]++;
      }
    }
    const sentence = text.join(" ");
    lines[i] = JSON.stringify({
      feature: i,
      text: sentence[0].toUpperCase() + sentence.slice(1) + (rand() < 0.5 ? "." : ""),
    });
  }
  return { jsonl: lines.join("\n"), vocabulary, documentFrequency };
}
