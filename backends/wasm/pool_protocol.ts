/**
 * The control block shared by a kernel pool and its workers: Int32 words in the kernels'
 * memory. A header line, then one slot per worker on its own cache lines.
 *
 * Handshake (state, not edges, so no wake-up can be missed): the pool writes a slot's JOB,
 * then increments its POSTED and notifies it; the worker runs the job whenever POSTED differs
 * from the DONE it last wrote, stores STATUS / RESULT, sets DONE = POSTED, decrements the
 * header's REMAINING and, if it was the last, notifies REMAINING (the pool waits on it with
 * Atomics.waitAsync). A worker started late still sees a round posted before it looked. With
 * a THEN job, REMAINING starts one higher and the last worker runs THEN before the final
 * decrement.
 * @module
 */

/** Header word: jobs of the current round not yet finished. */
export const H_REMAINING = 0;
/** Header word: non-zero once the pool abandons these workers (kernels stop, workers exit). */
export const H_CANCEL = 1;
/** Header word: workers that have left their loop. */
export const H_EXITED = 2;
/**
 * Header word: non-zero asks running kernels to stop at their next checkpoint (live work is
 * waiting, the call was aborted, or the workers are abandoned). Cleared when a round is posted.
 */
export const H_STOP = 3;
/**
 * Header word: a job (parameter block) for the last worker to finish the round to run before
 * the round counts as done, if every job finished (0: none). Spares the caller a wake-up.
 */
export const H_THEN = 4;
/** Header word: jobs of the round that stopped at a checkpoint (then H_THEN is not run). */
export const H_STOPPED = 5;
/** Header word: H_THEN's result: 0 finished, 1 stopped at a checkpoint, -1 not run. */
export const H_THEN_RESULT = 6;
/** Words before the first slot (one cache line). */
export const HEADER_WORDS = 16;

/** Slot word: rounds posted to this worker. */
export const S_POSTED = 0;
/** Slot word: the POSTED value of the last round this worker finished. */
export const S_DONE = 1;
/** Slot word: the job: a parameter-block address, or a control code such as {@link JOB_HANG}. */
export const S_JOB = 2;
/** Slot word: 0 when the job succeeded, 1 when it threw (message in the slot). */
export const S_STATUS = 3;
/** Slot word: the job's return value. */
export const S_RESULT = 4;
/** Slot word: length of the error message (ASCII bytes from {@link S_MESSAGE_BYTE}). */
export const S_MESSAGE_LENGTH = 5;
/** Byte offset inside a slot where an error message starts. */
export const S_MESSAGE_BYTE = 32;
/** Words per slot (four cache lines: slots never share a line). */
export const SLOT_WORDS = 64;
/** Longest error message a slot holds. */
export const MESSAGE_BYTES = SLOT_WORDS * 4 - S_MESSAGE_BYTE;

/** Job code that makes a worker hang until the pool cancels it (watchdog tests). */
export const JOB_HANG = -2;

/** Bytes of a control block for `workers` workers. */
export function controlBytes(workers: number): number {
  return 4 * (HEADER_WORDS + SLOT_WORDS * workers);
}

/** Word index of worker `index`'s slot inside the control block. */
export function slotWord(index: number): number {
  return HEADER_WORDS + SLOT_WORDS * index;
}
