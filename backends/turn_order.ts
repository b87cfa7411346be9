/**
 * Which class of work takes the next turn when both wait, shared by the WASM kernel pool (one
 * round a turn) and the WebGPU worker (one call a turn): live first, but after `liveTurns` live
 * turns granted while research waited, one research turn, so a stream of live work slows
 * research down without stopping it. With `liveTurns` 0, research waits until no live work does.
 * @module
 */

import type { WorkClass } from "./backend.ts";

/** Live turns in a row a waiting research turn lets pass by default ($SAESERVE_LIVE_TURNS). */
export const DEFAULT_LIVE_TURNS = 4;

/** Turns waiting, per class. */
export interface Waiting {
  readonly live: number;
  readonly research: number;
}

/** The order of turns between live and research work (a live streak counter). */
export class TurnOrder {
  /** Live turns in a row before a waiting research turn (0: research only when no live waits). */
  readonly liveTurns: number;
  #streak = 0;

  /** An order letting `liveTurns` (default {@link DEFAULT_LIVE_TURNS}) live turns pass at most. */
  constructor(liveTurns: number = DEFAULT_LIVE_TURNS) {
    if (!Number.isInteger(liveTurns) || liveTurns < 0) {
      throw new RangeError(`liveTurns must be an integer >= 0, not ${liveTurns}`);
    }
    this.liveTurns = liveTurns;
  }

  /** The class of the next turn given what waits (null: nothing waits); counts the turn. */
  next(waiting: Waiting): WorkClass | null {
    if (waiting.research === 0) {
      this.#streak = 0;
      return waiting.live > 0 ? "live" : null;
    }
    if (waiting.live === 0 || (this.liveTurns > 0 && this.#streak >= this.liveTurns)) {
      this.#streak = 0;
      return "research";
    }
    this.#streak++;
    return "live";
  }
}
