/**
 * A first-fit allocator over one shared WebAssembly.Memory: the host side of the kernels'
 * memory. Blocks are 64-byte aligned (cache lines, v128 loads); freed neighbours coalesce;
 * the memory grows when no free block fits.
 * @module
 */

const PAGE = 65536;
/** Alignment of every block, in bytes (a cache line; v128 loads). */
export const ALIGN = 64;

/** Allocation inside a shared WebAssembly.Memory. */
export class SharedHeap {
  /** The memory every kernel instance imports. */
  readonly memory: WebAssembly.Memory;
  #free: { ptr: number; size: number }[] = [];
  #used = new Map<number, number>();
  #end: number;

  /** Manage `memory` from byte `base` upward (below it: the kernels' own statics). */
  constructor(memory: WebAssembly.Memory, base: number) {
    this.memory = memory;
    this.#end = Math.ceil(base / ALIGN) * ALIGN;
  }

  /** Bytes currently allocated. */
  get allocatedBytes(): number {
    let n = 0;
    for (const size of this.#used.values()) n += size;
    return n;
  }

  /** Allocate `bytes` (rounded up to 64), returning the byte address. */
  alloc(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.#free.length; i++) {
      const block = this.#free[i];
      if (block.size < size) continue;
      const ptr = block.ptr;
      if (block.size === size) this.#free.splice(i, 1);
      else {
        block.ptr += size;
        block.size -= size;
      }
      this.#used.set(ptr, size);
      return ptr;
    }
    const ptr = this.#end;
    const needed = ptr + size;
    const have = this.memory.buffer.byteLength;
    if (needed > have) {
      const pages = Math.ceil((needed - have) / PAGE);
      try {
        this.memory.grow(pages);
      } catch (e) {
        throw new RangeError(`wasm memory cannot grow to ${needed} bytes`, { cause: e });
      }
    }
    this.#end = needed;
    this.#used.set(ptr, size);
    return ptr;
  }

  /** Release a block from {@link alloc}. */
  free(ptr: number): void {
    const size = this.#used.get(ptr);
    if (size === undefined) throw new RangeError(`free of unknown block ${ptr}`);
    this.#used.delete(ptr);
    // Insert sorted, then merge with neighbours.
    let i = 0;
    while (i < this.#free.length && this.#free[i].ptr < ptr) i++;
    this.#free.splice(i, 0, { ptr, size });
    const next = this.#free[i + 1];
    if (next && ptr + size === next.ptr) {
      this.#free[i].size += next.size;
      this.#free.splice(i + 1, 1);
    }
    const prev = this.#free[i - 1];
    if (prev && prev.ptr + prev.size === ptr) {
      prev.size += this.#free[i].size;
      this.#free.splice(i, 1);
    }
    // Give the top block back to the bump pointer.
    const last = this.#free[this.#free.length - 1];
    if (last && last.ptr + last.size === this.#end) {
      this.#end = last.ptr;
      this.#free.pop();
    }
  }

  /** Shrink a block to `bytes` (rounded up to 64), returning its tail to the free space. */
  shrink(ptr: number, bytes: number): void {
    const size = this.#used.get(ptr);
    if (size === undefined) throw new RangeError(`shrink of unknown block ${ptr}`);
    const keep = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    if (keep >= size) return;
    this.#used.set(ptr, keep);
    this.#used.set(ptr + keep, size - keep);
    this.free(ptr + keep);
  }

  /** A Float32Array view of `length` floats at `ptr` (views stay valid after growth). */
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  /** An Int32Array view of `length` ints at `ptr`. */
  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, length);
  }

  /** A Uint16Array view of `length` halves at `ptr`. */
  u16(ptr: number, length: number): Uint16Array {
    return new Uint16Array(this.memory.buffer, ptr, length);
  }
}
