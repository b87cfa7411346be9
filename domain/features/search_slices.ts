/**
 * Long work cut into steps, so it can run on the thread that answers requests: the work is a
 * generator that yields after every small piece (a millisecond or so), and
 * {@link runInSlices} runs pieces until a slice's time is spent, then gives the event loop a
 * turn (timers, sockets) before the next slice. {@link runAtOnce} runs the same steps without
 * pauses, so both paths compute the same thing.
 * @module
 */

/** Work that yields between pieces and returns `R` at the end. */
export type Steps<R> = Generator<void, R, void>;

/** Milliseconds of work between two turns of the event loop. */
export const SLICE_MS = 10;

/** Run every step now, without yielding to the event loop. */
export function runAtOnce<R>(steps: Steps<R>): R {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * Run the steps in slices of about `sliceMs` (default {@link SLICE_MS}), giving the event loop
 * a turn between slices. The turn is a `setTimeout(0)` (about 2 ms idle in Deno): unlike
 * `setImmediate` or a MessageChannel, it reliably lets sockets be polled.
 */
export async function runInSlices<R>(
  steps: Steps<R>,
  options: { sliceMs?: number } = {},
): Promise<R> {
  const sliceMs = options.sliceMs ?? SLICE_MS;
  let start = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - start >= sliceMs) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      start = performance.now();
    }
  }
}
