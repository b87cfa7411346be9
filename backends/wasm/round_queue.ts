/**
 * Turns at the kernel pool, one round at a time, in two classes: waiting "live" rounds go
 * before waiting "research" rounds, except that after `liveTurns` live rounds in a row while
 * research waited one research round goes ({@link TurnOrder}); each class is first come, first
 * served. A call of many rounds queues again before each, so live work waits for at most the
 * round in progress and one research round, and research is never stopped by live work alone.
 * @module
 */

import type { WorkClass } from "../backend.ts";
import { TurnOrder } from "../turn_order.ts";

interface Waiter {
  grant(): void;
  fail(error: unknown): void;
}

/** A two-class FIFO of turns. */
export class RoundQueue {
  #busy = false;
  readonly #live: Waiter[] = [];
  readonly #research: Waiter[] = [];
  readonly #order: TurnOrder;

  /** A queue whose research turns let at most `options.liveTurns` live turns pass in a row. */
  constructor(options?: { liveTurns?: number }) {
    this.#order = new TurnOrder(options?.liveTurns);
  }

  /** Turns waiting, per class. */
  get waiting(): { live: number; research: number } {
    return { live: this.#live.length, research: this.#research.length };
  }

  /**
   * Resolves when it is the caller's turn (then call {@link release} exactly once). Rejects
   * with `signal.reason` if the signal aborts first (the turn is given up).
   */
  acquire(priority: WorkClass = "live", signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.#busy) {
      this.#busy = true;
      return Promise.resolve();
    }
    const line = priority === "research" ? this.#research : this.#live;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = line.indexOf(waiter);
        if (at >= 0) line.splice(at, 1);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        fail: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      line.push(waiter);
    });
  }

  /** End the current turn and hand the pool to the next waiter ({@link TurnOrder}). */
  release(): void {
    const turn = this.#order.next(this.waiting);
    const next = turn === "live" ? this.#live.shift() : turn ? this.#research.shift() : undefined;
    if (next) next.grant();
    else this.#busy = false;
  }

  /** Reject every waiting turn with what `error` returns (the pool is closing). */
  rejectAll(error: () => unknown): void {
    for (const line of [this.#live, this.#research]) {
      for (const waiter of line.splice(0)) waiter.fail(error());
    }
  }
}
