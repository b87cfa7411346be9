/**
 * Exact score accumulation over posting lists, one block of documents at a time: every list is
 * sorted by document, so each block's sums live in small arrays that stay in cache while all
 * the query's lists are scanned up to the block's end; then the block's documents are offered
 * to the top-k heap and the arrays cleared. A document's score is summed in the same order as
 * without blocks (query terms in order, each term's lists in order), so it is the same number.
 * @module
 */

import type { TopHeap } from "../sae/top_heap.ts";

/** Documents per block (the sums of a block: 256 KiB). */
export const BLOCK = 1 << 15;

/** One posting list ready to scan: documents ascending and each posting's score. */
export interface Cursor {
  readonly docs: Int32Array;
  /** Posting i scores `scores[codes[i]]`; without codes, `scores[i]`. */
  readonly codes?: Uint8Array | Uint16Array | Uint32Array;
  readonly scores: Float64Array;
}

/** The lists one query term matches, summed in this order. */
export interface TermCursors {
  /** The term's bit among the query's distinct terms. */
  readonly bit: number;
  readonly cursors: readonly Cursor[];
}

/**
 * Working arrays for one block. Between blocks `total` and `partial` are all zero: a BM25+
 * contribution is never zero, so zero means "not touched yet".
 */
export class BlockScratch {
  readonly total: Float64Array = new Float64Array(BLOCK);
  readonly partial: Float64Array = new Float64Array(BLOCK);
  readonly terms: Uint32Array = new Uint32Array(BLOCK);
  readonly touched: Int32Array = new Int32Array(BLOCK);
  readonly termTouched: Int32Array = new Int32Array(BLOCK);
  /** Set while a query runs: one that threw left the arrays dirty. */
  busy = false;
}

/**
 * Offer every document the cursors reach to `heap`, scored as the sum over terms of each term's
 * sum over its lists, times the number of distinct terms matched; `ids` maps a document to the
 * id the heap ranks ties by.
 */
export function scoreInBlocks(
  terms: readonly TermCursors[],
  options: { scratch: BlockScratch; ids: Float64Array; heap: TopHeap },
): void {
  const { scratch, ids, heap } = options;
  if (scratch.busy) {
    scratch.total.fill(0);
    scratch.partial.fill(0);
  }
  scratch.busy = true;
  const { total, partial, touched, termTouched } = scratch;
  const bits = scratch.terms;
  const cursors = terms.flatMap((t) => t.cursors);
  const at = new Int32Array(cursors.length);
  const several = terms.length > 1;
  for (let lo = nextBlock(cursors, at); lo >= 0; lo = nextBlock(cursors, at)) {
    const hi = lo + BLOCK;
    let n = 0;
    let c = 0;
    for (let t = 0; t < terms.length; t++) {
      const first = t === 0;
      const into = first ? total : partial;
      const list = first ? touched : termTouched;
      let m = 0;
      const end = c + terms[t].cursors.length;
      for (; c < end; c++) {
        const { docs, codes, scores } = cursors[c];
        let i = at[c];
        if (codes) {
          for (; i < docs.length && docs[i] < hi; i++) {
            const doc = docs[i] - lo;
            if (into[doc] === 0) list[m++] = doc;
            into[doc] += scores[codes[i]];
          }
        } else {
          for (; i < docs.length && docs[i] < hi; i++) {
            const doc = docs[i] - lo;
            if (into[doc] === 0) list[m++] = doc;
            into[doc] += scores[i];
          }
        }
        at[c] = i;
      }
      const bit = 1 << terms[t].bit;
      if (first) {
        n = m;
        if (several) { for (let i = 0; i < n; i++) bits[touched[i]] = bit; }
        continue;
      }
      for (let i = 0; i < m; i++) {
        const doc = termTouched[i];
        const score = partial[doc];
        partial[doc] = 0;
        if (total[doc] === 0) {
          total[doc] = score;
          bits[doc] = bit;
          touched[n++] = doc;
        } else {
          total[doc] += score;
          bits[doc] |= bit;
        }
      }
    }
    for (let i = 0; i < n; i++) {
      const doc = touched[i];
      const score = several ? total[doc] * popCount(bits[doc]) : total[doc];
      total[doc] = 0;
      if (score >= heap.floor && heap.admits(score, ids[lo + doc])) heap.push(score, ids[lo + doc]);
    }
  }
  scratch.busy = false;
}

/** The start of the block holding the lowest unscanned document, or -1 when all are done. */
function nextBlock(cursors: readonly Cursor[], at: Int32Array): number {
  let lowest = Infinity;
  for (let c = 0; c < cursors.length; c++) {
    const docs = cursors[c].docs;
    if (at[c] < docs.length && docs[at[c]] < lowest) lowest = docs[at[c]];
  }
  return lowest === Infinity ? -1 : lowest - (lowest % BLOCK);
}

/** Number of set bits. */
function popCount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
