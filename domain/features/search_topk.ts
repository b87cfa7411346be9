/**
 * MiniSearch with a top-k search: the same BM25+ scores as `MiniSearch.search` (the same query
 * terms, prefix and fuzzy expansions, weights, per-term sums in the same order, times the number
 * of query terms matched), read from MiniSearch's own posting lists, but summed in typed arrays a
 * block of documents at a time (search_blocks.ts) and cut to the best `top` with a bounded heap,
 * instead of a result object per matching document and a sort of them all.
 *
 * Supported configuration: one indexed field, numeric document ids, no field or term boosts, no
 * document boost or filter, no discarded documents; anything else falls back to `search`.
 * @module
 */

import MiniSearch, { type Options } from "minisearch";
import { BlockScratch, type Cursor, scoreInBlocks, type TermCursors } from "./search_blocks.ts";
import { TopHeap } from "../sae/top_heap.ts";
import { runAtOnce, type Steps } from "./search_slices.ts";

/** A document found by {@link TopKMiniSearch.top}. */
export interface ScoredId {
  readonly id: number;
  /** The score `MiniSearch.search` gives the document (bit for bit). */
  readonly score: number;
}

/** One indexed term a query term matches, with its weight (1, prefix or fuzzy weight). */
interface Expansion {
  readonly weight: number;
  /** The term's postings in the field: document short id -> term frequency. */
  readonly postings: ReadonlyMap<number, number>;
}

/** The expansions of one query term, in the order MiniSearch sums them. */
interface QueryTermPlan {
  /** Index of the term's text among the query's distinct terms (the quality bit). */
  readonly bit: number;
  readonly expansions: readonly Expansion[];
}

/** Items (documents, postings, terms) handled between two yields of the table's steps. */
const STEP = 8192;

/** Terms in this many documents or more are also held as arrays (faster to scan). */
const ARRAY_POSTINGS = 512;

/**
 * A term's postings as arrays, short id ascending, each document's (term frequency, field
 * length class) pair coded as an index into `pairTf`/`pairClass`.
 */
interface PostingArrays {
  readonly docs: Int32Array;
  readonly pair: Uint8Array | Uint16Array | Uint32Array;
  readonly pairTf: Float64Array;
  readonly pairClass: Uint32Array;
}

/** Field lengths and ids by short id, copied once the index stops changing. */
interface DocumentTable {
  readonly nextId: number;
  /** Index of each document's field length in `lengthValues`. */
  readonly lengthClass: Uint16Array | Uint32Array;
  /** The distinct field lengths. */
  readonly lengthValues: Float64Array;
  readonly ids: Float64Array;
  /** Whether every id is a number (else {@link TopKMiniSearch.top} falls back to `search`). */
  readonly numericIds: boolean;
  /** The postings of terms in {@link ARRAY_POSTINGS} documents or more, as arrays. */
  readonly arrays: WeakMap<ReadonlyMap<number, number>, PostingArrays>;
  readonly scratch: BlockScratch;
}

/** What scoring one expansion needs. */
interface Scoring {
  readonly table: DocumentTable;
  /** k * (1 - b + b * length / average) by length class (calcBM25Score's length norm). */
  readonly norm: Float64Array;
  readonly k: number;
  readonly d: number;
  readonly count: number;
}

/** MiniSearch plus {@link TopKMiniSearch.top}; build and query it like MiniSearch. */
export class TopKMiniSearch<T> extends MiniSearch<T> {
  #table: DocumentTable | undefined;

  constructor(options: Options<T>) {
    super(options);
  }

  /** Copy what {@link top} reads: field lengths, ids, large posting lists (else its first call). */
  prepare(): void {
    this.#documentTable();
  }

  /**
   * {@link prepare} as steps of about a millisecond each (run them with search_slices.ts), for
   * a thread that must keep answering meanwhile. The index must not change until they end.
   */
  *prepareSteps(): Steps<void> {
    if (this.#table?.nextId !== this._nextId) this.#table = yield* this.#tableSteps();
  }

  /**
   * The best `top` documents for `query`, best first (ties: lower id first), scored exactly as
   * `search(query)` scores them.
   */
  top(query: string, options: { top: number }): ScoredId[] {
    const plan = this.#supported() ? this.#plan(query) : undefined;
    if (!plan) return this.#viaSearch(query, options.top);
    if (plan.length === 0 || options.top < 1) return [];
    const table = this.#documentTable();
    if (!table.numericIds) return this.#viaSearch(query, options.top);
    const { k, b, d } = this.#bm25();
    const average = this._avgFieldLength[0];
    const norm = table.lengthValues.map((length) => k * (1 - b + b * length / average));
    const scoring: Scoring = { table, norm, k, d, count: this._documentCount };
    const terms: TermCursors[] = plan.map((term) => ({
      bit: term.bit,
      cursors: term.expansions.map((e) => cursorOf(e, scoring)),
    }));
    const heap = new TopHeap(options.top);
    scoreInBlocks(terms, { scratch: table.scratch, ids: table.ids, heap });
    return heap.sorted().map(([score, id]) => ({ id, score }));
  }

  /** The query's terms and their expansions, as `MiniSearch.executeQuery` forms them. */
  #plan(query: string): QueryTermPlan[] | undefined {
    const options = { ...this._options, ...this._options.searchOptions };
    const terms = options.tokenize(query)
      .flatMap((term) => options.processTerm(term))
      .filter((term): term is string => !!term);
    const distinct = [...new Set(terms)];
    if (distinct.length > 32) return undefined;
    const weights = options.weights ?? {};
    const fuzzyWeight = weights.fuzzy ?? DEFAULT_WEIGHTS.fuzzy;
    const prefixWeight = weights.prefix ?? DEFAULT_WEIGHTS.prefix;
    const maxFuzzy = options.maxFuzzy ?? DEFAULT_MAX_FUZZY;
    return terms.map((term, i): QueryTermPlan => {
      const fuzzy = typeof options.fuzzy === "function"
        ? options.fuzzy(term, i, terms)
        : options.fuzzy || false;
      const prefix = typeof options.prefix === "function"
        ? options.prefix(term, i, terms)
        : options.prefix === true;
      const expansions: Expansion[] = [];
      const add = (weight: number, data: Map<number, Map<number, number>> | undefined) => {
        const postings = data?.get(0);
        if (postings) expansions.push({ weight, postings });
      };
      add(1, this._index.get(term));
      const prefixMatches = prefix ? this._index.atPrefix(term) : undefined;
      let fuzzyMatches;
      if (fuzzy) {
        const f = fuzzy === true ? 0.2 : fuzzy;
        const maxDistance = f < 1 ? Math.min(maxFuzzy, Math.round(term.length * f)) : f;
        if (maxDistance) fuzzyMatches = this._index.fuzzyGet(term, maxDistance);
      }
      if (prefixMatches) {
        for (const [match, data] of prefixMatches) {
          const distance = match.length - term.length;
          if (!distance) continue;
          fuzzyMatches?.delete(match);
          add(prefixWeight * match.length / (match.length + 0.3 * distance), data);
        }
      }
      if (fuzzyMatches) {
        for (const match of fuzzyMatches.keys()) {
          const [data, distance] = fuzzyMatches.get(match)!;
          if (!distance) continue;
          add(fuzzyWeight * match.length / (match.length + distance), data);
        }
      }
      return { bit: distinct.indexOf(term), expansions };
    });
  }

  /** Whether the configuration is one {@link top} reproduces. */
  #supported(): boolean {
    const o = this._options;
    const s = o.searchOptions ?? {};
    return o.fields.length === 1 && this._dirtCount === 0 && s.boostDocument === undefined &&
      s.boostTerm === undefined && s.filter === undefined &&
      (s.combineWith ?? "OR").toUpperCase() === "OR" && s.fields === undefined &&
      Object.values(s.boost ?? {}).every((v) => v === 1);
  }

  #bm25(): { k: number; b: number; d: number } {
    return { ...DEFAULT_BM25, ...this._options.searchOptions?.bm25 };
  }

  /** Field lengths, ids and large terms' postings as arrays (rebuilt after changes). */
  #documentTable(): DocumentTable {
    if (this.#table?.nextId !== this._nextId) this.#table = runAtOnce(this.#tableSteps());
    return this.#table;
  }

  /** Builds the {@link DocumentTable}, yielding every {@link STEP} items or so. */
  *#tableSteps(): Steps<DocumentTable> {
    const n = this._nextId;
    const classes = new Map<number, number>();
    let work = 0;
    for (const lengths of this._fieldLength.values()) {
      if (!classes.has(lengths[0])) classes.set(lengths[0], classes.size);
      if (++work % STEP === 0) yield;
    }
    const lengthClass = classes.size <= 0x10000 ? new Uint16Array(n) : new Uint32Array(n);
    for (const [shortId, lengths] of this._fieldLength) {
      lengthClass[shortId] = classes.get(lengths[0])!;
      if (++work % STEP === 0) yield;
    }
    const lengthValues = Float64Array.from(classes.keys());
    const ids = new Float64Array(n);
    for (const [shortId, id] of this._documentIds) {
      ids[shortId] = typeof id === "number" ? id : NaN;
      if (++work % STEP === 0) yield;
    }
    const arrays = new WeakMap<ReadonlyMap<number, number>, PostingArrays>();
    for (const fields of this._index.values()) {
      const postings = fields.get(0);
      if (postings && postings.size >= ARRAY_POSTINGS) {
        arrays.set(postings, yield* arraysOf(postings, lengthClass));
      }
      if (++work % STEP === 0) yield;
    }
    const scratch = this.#table?.scratch ?? new BlockScratch();
    const numericIds = !ids.some(Number.isNaN);
    return { nextId: n, lengthClass, lengthValues, ids, numericIds, arrays, scratch };
  }

  /** The fallback: MiniSearch's own search, ordered and cut the same way. */
  #viaSearch(query: string, top: number): ScoredId[] {
    return this.search(query)
      .map((h) => ({ id: h.id as number, score: h.score }))
      .sort((a, b) => b.score - a.score || a.id - b.id)
      .slice(0, top);
  }
}

/** minisearch 7.2.0's defaults (used when the options leave them out). */
const DEFAULT_WEIGHTS = { fuzzy: 0.45, prefix: 0.375 };
const DEFAULT_MAX_FUZZY = 6;
const DEFAULT_BM25 = { k: 1.2, b: 0.7, d: 0.5 };

/**
 * An expansion's postings with their scores: calcBM25Score of minisearch 7.2.0 (the same
 * operations in the same order) times the expansion's weight, per (tf, length) pair for a term
 * held as arrays, else per posting.
 */
function cursorOf(expansion: Expansion, scoring: Scoring): Cursor {
  const { weight, postings } = expansion;
  const { table, norm, k, d, count } = scoring;
  const matching = postings.size;
  const idf = Math.log(1 + (count - matching + 0.5) / (matching + 0.5));
  const arrays = table.arrays.get(postings);
  if (arrays && arrays.docs.length === matching) {
    const { docs, pair, pairTf, pairClass } = arrays;
    const scores = new Float64Array(pairTf.length);
    for (let j = 0; j < scores.length; j++) {
      const tf = pairTf[j];
      scores[j] = weight * (idf * (d + tf * (k + 1) / (tf + norm[pairClass[j]])));
    }
    return { docs, codes: pair, scores };
  }
  const lengthClass = table.lengthClass;
  const docs = new Int32Array(matching);
  const scores = new Float64Array(matching);
  let i = 0;
  postings.forEach((tf, doc) => {
    docs[i] = doc;
    scores[i++] = weight * (idf * (d + tf * (k + 1) / (tf + norm[lengthClass[doc]])));
  });
  if (ascending(docs)) return { docs, scores };
  const order = [...docs.keys()].sort((a, b) => docs[a] - docs[b]);
  return {
    docs: Int32Array.from(order, (j) => docs[j]),
    scores: Float64Array.from(order, (j) => scores[j]),
  };
}

/** A term's postings copied into arrays (short id ascending), yielding every {@link STEP}. */
function* arraysOf(
  postings: ReadonlyMap<number, number>,
  lengthClass: Uint16Array | Uint32Array,
): Steps<PostingArrays> {
  const docs = new Int32Array(postings.size);
  let i = 0;
  for (const doc of postings.keys()) {
    docs[i++] = doc;
    if (i % STEP === 0) yield;
  }
  if (!ascending(docs)) docs.sort();
  const codes = new Map<number, number>();
  const pairTf: number[] = [];
  const pairClass: number[] = [];
  const pairs = new Uint32Array(docs.length);
  for (let i = 0; i < docs.length; i++) {
    const tf = postings.get(docs[i])!;
    const c = lengthClass[docs[i]];
    const key = tf * 0x100000000 + c;
    let code = codes.get(key);
    if (code === undefined) {
      codes.set(key, code = pairTf.length);
      pairTf.push(tf);
      pairClass.push(c);
    }
    pairs[i] = code;
    if ((i + 1) % STEP === 0) yield;
  }
  const pair = pairTf.length <= 0x100
    ? Uint8Array.from(pairs)
    : pairTf.length <= 0x10000
    ? Uint16Array.from(pairs)
    : pairs;
  return { docs, pair, pairTf: Float64Array.from(pairTf), pairClass: Uint32Array.from(pairClass) };
}

/** Whether the numbers ascend strictly. */
function ascending(values: ArrayLike<number>): boolean {
  for (let i = 1; i < values.length; i++) if (values[i] <= values[i - 1]) return false;
  return true;
}
