/**
 * GPU buffers of the WebGPU backend: storage buffers uploaded through the queue in slices,
 * scratch storage, small uniform blocks, and weights converted to the stored precision (f16 and
 * bf16 packed two per 32-bit word, rows padded to an even length).
 * @module
 */

import { SaeError } from "../../domain/errors.ts";
import { f32ToBf16, f32ToF16 } from "../../domain/io/dtype.ts";
import type { Precision } from "../../domain/precision.ts";

/** Bytes per queue.writeBuffer call of an upload. */
export const UPLOAD_SLICE = 16 << 20;

/** Buffer bytes for `bytes` of data: a multiple of 16, at least 16. */
export function bufferSize(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

/**
 * A storage buffer holding `data`, written through the queue in slices (wgpu copies each into
 * its staging memory). Buffers mapped at creation were measured at about 20 MB/s on an H200
 * under Deno 2.9.6, which made every upload, not the GEMM, the cost of an encode.
 */
export function upload(
  device: GPUDevice,
  data: ArrayBufferView,
  options?: { usage?: number },
): GPUBuffer {
  const buffer = device.createBuffer({
    size: bufferSize(data.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST |
      (options?.usage ?? 0),
  });
  write(device, { buffer, data });
  return buffer;
}

/** Write `data` at the start of `buffer` (COPY_DST, at least bufferSize(data) bytes) by queue. */
export function write(device: GPUDevice, to: { buffer: GPUBuffer; data: ArrayBufferView }): void {
  const { buffer, data } = to;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const whole = bytes.byteLength & ~3;
  for (let at = 0; at < whole; at += UPLOAD_SLICE) {
    const end = Math.min(whole, at + UPLOAD_SLICE);
    // Views of shared memory (the WASM heap) are copied out first: writeBuffer takes neither.
    const piece = bytes.buffer instanceof ArrayBuffer
      ? (bytes as Uint8Array<ArrayBuffer>).subarray(at, end)
      : bytes.slice(at, end);
    device.queue.writeBuffer(buffer, at, piece);
  }
  if (whole < bytes.byteLength) {
    // writeBuffer moves multiples of 4 bytes: the tail goes in zero-padded.
    const tail = new Uint8Array(4);
    tail.set(bytes.subarray(whole));
    device.queue.writeBuffer(buffer, whole, tail);
  }
}

/** An uninitialized (zeroed) storage buffer of at least `bytes`. */
export function storage(device: GPUDevice, bytes: number): GPUBuffer {
  return device.createBuffer({
    size: bufferSize(bytes),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
}

/** A uniform buffer holding `words` (u32), padded to a multiple of four words. */
export function uniform(device: GPUDevice, words: readonly number[]): GPUBuffer {
  const data = new Uint32Array(Math.ceil(words.length / 4) * 4);
  data.set(words);
  const buffer = device.createBuffer({
    size: data.byteLength,
    usage: GPUBufferUsage.UNIFORM,
    mappedAtCreation: true,
  });
  new Uint32Array(buffer.getMappedRange()).set(data);
  buffer.unmap();
  return buffer;
}

/**
 * A [rows, cols] f32 matrix in `precision`: as is for f32; for f16 and bf16 the 16-bit
 * patterns with rows padded to an even length `ld` (two per u32 word, element i of a word pair
 * in the low half when i is even). Throws SaeError "unavailable" when a weight overflows f16.
 */
export function storedMatrix(
  data: Float32Array,
  shape: { rows: number; cols: number; precision: Precision },
): { array: Float32Array | Uint16Array; ld: number } {
  const { rows, cols, precision } = shape;
  if (precision === "f32") return { array: data, ld: cols };
  const ld = cols + (cols & 1);
  const out = new Uint16Array(rows * ld);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = data[r * cols + c];
      if (precision === "f16" && Math.abs(v) > 65504) {
        throw new SaeError(
          "unavailable",
          `weight ${v} does not fit in f16; use SAESERVE_WEIGHTS=bf16 or f32`,
        );
      }
      out[r * ld + c] = precision === "f16" ? f32ToF16(v) : f32ToBf16(v);
    }
  }
  return { array: out, ld };
}
