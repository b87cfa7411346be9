/**
 * The control block shared by the pool and its workers (Int32 words in shared memory).
 * @module
 */

/** Word bumped to wake workers for a new round of jobs. */
export const CTRL_SEQ = 0;
/** Word counting workers still running this round. */
export const CTRL_PENDING = 1;
/** First per-worker job word: a parameter-block address, 0 for none, JOB_EXIT to quit. */
export const CTRL_JOBS = 2;
/** Job value that tells a worker to exit. */
export const JOB_EXIT = -1;
