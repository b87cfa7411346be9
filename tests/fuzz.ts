/**
 * Seeded mutation of valid files for the parser fuzz tests: truncation, extension with zeros and
 * overwritten bytes (biased towards the header, where the structure lives).
 * @module
 */

import type { Random } from "../domain/random.ts";

/**
 * The seeded generator the parser fuzz tests draw from (domain/random.ts's `seededRandom`;
 * re-exported under the name those tests import).
 */
export { seededRandom as rng } from "../domain/random.ts";

/** How `mutate` picks its damage. */
export interface MutateOptions {
  /** Share of mutants truncated at a random length. */
  readonly truncate: number;
  /** Share of mutants extended by 1-64 zero bytes (default none). */
  readonly extend?: number;
  /** Overwritten bytes fall in the first `bytes` with probability `share` (default: anywhere). */
  readonly header?: { readonly bytes: number; readonly share: number };
  /** Values written half the time (the other half a random byte). */
  readonly specials: readonly number[];
}

/** A damaged copy of `bytes`, drawn from `random`. */
export function mutate(
  bytes: Uint8Array,
  random: Random,
  options: MutateOptions,
): Uint8Array<ArrayBuffer> {
  const out = bytes.slice();
  const kind = random();
  if (kind < options.truncate) return out.slice(0, Math.floor(random() * out.length));
  if (kind < (options.extend ?? 0)) {
    const longer = new Uint8Array(out.length + 1 + Math.floor(random() * 64));
    longer.set(out);
    return longer;
  }
  const flips = 1 + Math.floor(random() * 4);
  const { header, specials } = options;
  for (let i = 0; i < flips; i++) {
    const span = header && random() < header.share
      ? Math.min(out.length, header.bytes)
      : out.length;
    const at = Math.floor(span * random());
    out[at] = random() < 0.5
      ? Math.floor(random() * 256)
      : specials[Math.floor(random() * specials.length)];
  }
  return out;
}
