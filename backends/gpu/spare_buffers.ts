/**
 * Buffers that carried a call's rows to the WebGPU worker and came back with its answer, kept
 * for the next call's rows. A new buffer's first touch cost more than the copy into it: moving
 * 8192 rows of 2304 to a worker and back took 319 ms in fresh memory on this VM, 6.8 ms in a
 * kept buffer (1024 rows: 43 -> 0.9 ms), and the threaded 8192-row encode on an H200 host took
 * 223 ms against 124 ms in-process.
 * @module
 */

/** Reuse counts of a {@link SpareBuffers}. */
export interface SpareCounts {
  /** Buffers taken from the kept ones. */
  readonly reused: number;
  /** Buffers made because none kept was large enough. */
  readonly made: number;
  /** Buffers kept now. */
  readonly kept: number;
}

/** Options of {@link SpareBuffers}. */
export interface SpareBuffersOptions {
  /** Bytes kept at most, all buffers together (default 96 MiB: 8192 rows of 2304 fit). */
  readonly maxBytes?: number;
  /** Buffers kept at most (default 4). */
  readonly maxKept?: number;
}

/** A best-fit free list of ArrayBuffers under a byte and a count limit. */
export class SpareBuffers {
  /** Kept buffers, smallest first. */
  readonly #free: ArrayBuffer[] = [];
  readonly #maxBytes: number;
  readonly #maxKept: number;
  #kept = 0;
  #reused = 0;
  #made = 0;

  constructor(options: SpareBuffersOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 96 << 20;
    this.#maxKept = options.maxKept ?? 4;
  }

  /**
   * A buffer of at least `bytes`: the smallest kept one that fits and is not more than twice as
   * large (or 64 KiB), else a new one, so a small call leaves the large buffers to large calls.
   */
  take(bytes: number): ArrayBuffer {
    if (bytes === 0) return new ArrayBuffer(0);
    const at = this.#free.findIndex((b) => b.byteLength >= bytes);
    if (at < 0 || this.#free[at].byteLength > Math.max(2 * bytes, 64 << 10)) {
      this.#made++;
      return new ArrayBuffer(bytes);
    }
    const [buffer] = this.#free.splice(at, 1);
    this.#kept -= buffer.byteLength;
    this.#reused++;
    return buffer;
  }

  /**
   * Keep `buffer` for a later call. With the count limit reached it replaces the smallest kept
   * buffer if it is larger; beyond the byte limit (or detached) it is dropped.
   */
  give(buffer: ArrayBuffer): void {
    const bytes = buffer.byteLength;
    if (bytes === 0 || bytes > this.#maxBytes) return;
    if (this.#free.length >= this.#maxKept) {
      if (this.#free[0].byteLength >= bytes) return;
      this.#kept -= this.#free.shift()!.byteLength;
    }
    while (this.#kept + bytes > this.#maxBytes) this.#kept -= this.#free.shift()!.byteLength;
    const at = this.#free.findIndex((b) => b.byteLength > bytes);
    this.#free.splice(at < 0 ? this.#free.length : at, 0, buffer);
    this.#kept += bytes;
  }

  /** How often a kept buffer served, how often none did, and how many are kept. */
  counts(): SpareCounts {
    return { reused: this.#reused, made: this.#made, kept: this.#free.length };
  }
}
