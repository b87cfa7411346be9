/**
 * Turns at the kernel pool, one round at a time, in two classes: a waiting "live" round always
 * goes before every waiting "research" round; each class is first come, first served. A call
 * of many rounds queues again before each, so live work never waits for more than the round
 * in progress.
 * @module
 */

import type { WorkClass } from "../backend.ts";

interface Waiter {
  grant(): void;
  fail(error: unknown): void;
}

/** A two-class FIFO of turns. */
export class RoundQueue {
  #busy = false;
  readonly #live: Waiter[] = [];
  readonly #research: Waiter[] = [];

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

  /** End the current turn and hand the pool to the next waiter (live first). */
  release(): void {
    const next = this.#live.shift() ?? this.#research.shift();
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
