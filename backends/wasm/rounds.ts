/**
 * How a kernel call is cut into jobs and rounds: each worker's column range, row blocks, row
 * ranges by work, and the ranges of an in-place compaction.
 * @module
 */

/** Contiguous column ranges [n0, n1) of whole 8-column panels, one per part that gets any. */
export function splitColumns(n: number, parts: number): [number, number][] {
  const panels = Math.ceil(n / 8);
  const count = Math.max(1, Math.min(parts, panels));
  const out: [number, number][] = [];
  for (let t = 0; t < count; t++) {
    const p0 = Math.floor((panels * t) / count);
    const p1 = Math.floor((panels * (t + 1)) / count);
    if (p1 > p0) out.push([p0 * 8, p1 * 8]);
  }
  return out;
}

/** Limits of {@link blockRows}. */
export interface RowBlockLimits {
  /** Scratch bytes one row of a block needs. */
  readonly rowBytes: number;
  /** Most rows in a block. */
  readonly maxRows: number;
  /** Most scratch bytes a block may use. */
  readonly maxBytes: number;
}

/** Rows per block: within the limits, at least one. */
export function blockRows(rows: number, limits: RowBlockLimits): number {
  const byBytes = Math.floor(limits.maxBytes / Math.max(1, limits.rowBytes));
  return Math.max(1, Math.min(rows, limits.maxRows, byBytes));
}

/**
 * Contiguous ranges [r0, r1) of about equal total work, at most `parts` of them, each at least
 * one row (rows with no work at all still get a range).
 */
export function splitByWork(work: ArrayLike<number>, parts: number): [number, number][] {
  const n = work.length;
  if (n === 0) return [];
  let total = 0;
  for (let r = 0; r < n; r++) total += work[r];
  const count = Math.max(1, Math.min(parts, n));
  const ranges: [number, number][] = [];
  let r = 0;
  let acc = 0;
  for (let j = 1; j <= count && r < n; j++) {
    const r0 = r;
    acc += work[r++];
    if (j === count) r = n;
    else while (r < n && acc + work[r] <= (total * j) / count) acc += work[r++];
    ranges.push([r0, r]);
  }
  return ranges;
}

/**
 * Ranges of an in-place f32 -> 16-bit compaction of `count` elements, round by round. Element
 * i lands at byte 2i, over elements below i, so a round may only cover [a, b) with b <= 2a
 * (every byte it writes was read in earlier rounds); the first round is one range.
 */
export function compactionRounds(
  count: number,
  split: { parts: number; chunk: number },
): [number, number][][] {
  const { parts, chunk } = split;
  const rounds: [number, number][][] = [];
  let a = 0;
  while (a < count) {
    const b = a === 0 ? Math.min(count, chunk) : Math.min(count, 2 * a, a + chunk * parts);
    const pieces = a === 0 ? 1 : Math.max(1, Math.min(parts, Math.ceil((b - a) / 4096)));
    const round: [number, number][] = [];
    for (let t = 0; t < pieces; t++) {
      const x = a + Math.floor(((b - a) * t) / pieces);
      const y = a + Math.floor(((b - a) * (t + 1)) / pieces);
      if (y > x) round.push([x, y]);
    }
    rounds.push(round);
    a = b;
  }
  return rounds;
}
