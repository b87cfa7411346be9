/**
 * The best `capacity` (score, id) pairs seen: higher score first, ties to the lower id. A binary
 * min-heap on typed arrays with the worst kept pair at its root. Used by the per-row top-k
 * (`top_k.ts`) and by the explanation search.
 * @module
 */

/** A bounded heap of the best (score, id) pairs. */
export class TopHeap {
  readonly #scores: Float64Array;
  readonly #ids: Float64Array;
  #size = 0;

  /** A heap keeping at most `capacity` pairs. */
  constructor(capacity: number) {
    this.#scores = new Float64Array(Math.max(0, capacity));
    this.#ids = new Float64Array(Math.max(0, capacity));
  }

  /** Number of pairs kept. */
  get size(): number {
    return this.#size;
  }

  /** Scores below this are not kept (-Infinity until the heap is full). */
  get floor(): number {
    return this.#size < this.#scores.length || this.#size === 0 ? -Infinity : this.#scores[0];
  }

  /** Whether (score, id) would be kept: the heap has room or it beats the worst kept. */
  admits(score: number, id: number): boolean {
    if (this.#size < this.#scores.length) return true;
    if (this.#size === 0) return false;
    const worst = this.#scores[0];
    return score > worst || (score === worst && id < this.#ids[0]);
  }

  /** Keep (score, id), dropping the worst pair when full; call after {@link admits}. */
  push(score: number, id: number): void {
    const scores = this.#scores;
    const ids = this.#ids;
    if (this.#size < scores.length) {
      let i = this.#size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!worse(score, id, scores[parent], ids[parent])) break;
        scores[i] = scores[parent];
        ids[i] = ids[parent];
        i = parent;
      }
      scores[i] = score;
      ids[i] = id;
      return;
    }
    let i = 0;
    const n = this.#size;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && worse(scores[right], ids[right], scores[left], ids[left])
        ? right
        : left;
      if (!worse(scores[child], ids[child], score, id)) break;
      scores[i] = scores[child];
      ids[i] = ids[child];
      i = child;
    }
    scores[i] = score;
    ids[i] = id;
  }

  /** The kept pairs, best first, as f32 values and int32 ids. */
  selection(): { indices: Int32Array; values: Float32Array } {
    const order = Array.from({ length: this.#size }, (_, j) => j);
    const scores = this.#scores;
    const ids = this.#ids;
    order.sort((a, b) => scores[b] - scores[a] || ids[a] - ids[b]);
    const indices = new Int32Array(this.#size);
    const values = new Float32Array(this.#size);
    for (let j = 0; j < this.#size; j++) {
      indices[j] = ids[order[j]];
      values[j] = scores[order[j]];
    }
    return { indices, values };
  }

  /** The kept pairs as [score, id], best first. */
  sorted(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.#size; i++) out.push([this.#scores[i], this.#ids[i]]);
    return out.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  }
}

/** Whether (s1, id1) ranks below (s2, id2). */
function worse(s1: number, id1: number, s2: number, id2: number): boolean {
  return s1 < s2 || (s1 === s2 && id1 > id2);
}
