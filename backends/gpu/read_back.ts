/**
 * Staging buffers for reading results back, kept and reused, and read without Deno 2.9.6's
 * 10 ms wait. Its `mapAsync` (ext/webgpu/buffer.rs) polls the device inside the call, waiting
 * until the GPU's work is done and the mapping made, and then resolves the promise only after
 * an unconditional 10 ms sleep: every read-back cost at least 10 ms, even of 16 bytes. Once
 * `mapAsync` has returned the mapping is made, so a buffer's bytes can be read at once and the
 * promise left to settle. One condition: Deno panics (the process aborts) when a buffer that
 * was never mapped before is read that way, so each new staging buffer is first mapped and
 * read the slow way, awaiting the promise, and only buffers that have been are kept for reuse.
 * Should a runtime map later than the call returns, the read throws, and the promise is
 * awaited instead.
 * @module
 */

/** One range of a staging buffer to copy out. */
export interface ReadRange {
  readonly offset: number;
  readonly bytes: number;
}

/** A staging buffer handed out by {@link ReadBackPool.take}. */
export interface Staging {
  readonly buffer: GPUBuffer;
  /** Mapped before (read without the wait); false for a new buffer. */
  readonly primed: boolean;
}

/** Options of {@link ReadBackPool}. */
export interface ReadBackPoolOptions {
  /** Staging buffers kept between read-backs (default 8). */
  readonly maxKept?: number;
  /** Largest staging buffer kept, in bytes (default 64 MiB); larger ones are used once. */
  readonly maxKeptBytes?: number;
}

/** Counts of read-backs by path, for tests and benchmarks. */
export interface ReadBackCounts {
  /** Read as soon as mapAsync returned. */
  readonly fast: number;
  /** Read after awaiting mapAsync (a new buffer, or the mapping was not made in the call). */
  readonly awaited: number;
}

/** Reused MAP_READ staging buffers of one device. */
export class ReadBackPool {
  readonly #device: GPUDevice;
  readonly #maxKept: number;
  readonly #maxKeptBytes: number;
  /** Free buffers, each mapped at least once. */
  #free: GPUBuffer[] = [];
  #fast = 0;
  #awaited = 0;
  #destroyed = false;

  /** A pool for `device`. */
  constructor(device: GPUDevice, options: ReadBackPoolOptions = {}) {
    this.#device = device;
    this.#maxKept = options.maxKept ?? 8;
    this.#maxKeptBytes = options.maxKeptBytes ?? 64 << 20;
  }

  /** A staging buffer (COPY_DST | MAP_READ) of at least `bytes`, to copy into before submitting. */
  take(bytes: number): Staging {
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const size = this.#free[i].size;
      if (size >= bytes && (best < 0 || size < this.#free[best].size)) best = i;
    }
    if (best >= 0) return { buffer: this.#free.splice(best, 1)[0], primed: true };
    // Kept sizes are powers of two (a few buffers then serve every size); one used once is
    // made to measure (a 65 MiB read must not take 128 MiB, nor one over 1 GiB 2 GiB).
    const pow2 = Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(1, bytes))));
    const kept = this.#maxKept > 0 && pow2 <= this.#maxKeptBytes;
    const size = kept ? pow2 : Math.ceil(bytes / 256) * 256;
    const buffer = this.#device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    return { buffer, primed: false };
  }

  /**
   * After the submission that copies into `staging`: map it, copy out `ranges` (one ArrayBuffer
   * each), unmap, and keep the buffer for reuse (or destroy it when the pool is full or it is too
   * large). On failure the buffer is destroyed.
   */
  async read(staging: Staging, ranges: readonly ReadRange[]): Promise<ArrayBuffer[]> {
    const { buffer } = staging;
    let mapped: ArrayBuffer | null = null;
    try {
      const mapping = buffer.mapAsync(GPUMapMode.READ);
      if (staging.primed) {
        try {
          mapped = buffer.getMappedRange();
          mapping.catch(() => {}); // settles 10 ms later; its outcome is already known
          this.#fast++;
        } catch {
          mapped = null;
        }
      }
      if (!mapped) {
        await mapping;
        mapped = buffer.getMappedRange();
        this.#awaited++;
      }
      const out = ranges.map((r) => mapped!.slice(r.offset, r.offset + r.bytes));
      buffer.unmap();
      this.#keep(buffer);
      return out;
    } catch (e) {
      buffer.destroy();
      throw e;
    }
  }

  /** Give back a buffer from {@link take} that was not read (its submission failed). */
  discard(staging: Staging): void {
    if (staging.primed) this.#keep(staging.buffer);
    else staging.buffer.destroy();
  }

  /** Read-backs so far, by path. */
  counts(): ReadBackCounts {
    return { fast: this.#fast, awaited: this.#awaited };
  }

  /** Destroy the kept buffers; later buffers are used once. */
  destroy(): void {
    this.#destroyed = true;
    for (const b of this.#free.splice(0)) b.destroy();
  }

  #keep(buffer: GPUBuffer): void {
    if (this.#destroyed || buffer.size > this.#maxKeptBytes) return buffer.destroy();
    this.#free.push(buffer);
    if (this.#free.length > this.#maxKept) {
      // Drop the smallest: the large ones are the costly ones to make again.
      let smallest = 0;
      for (let i = 1; i < this.#free.length; i++) {
        if (this.#free[i].size < this.#free[smallest].size) smallest = i;
      }
      this.#free.splice(smallest, 1)[0].destroy();
    }
  }
}
