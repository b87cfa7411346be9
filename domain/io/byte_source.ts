/**
 * Random-access byte sources: the seam between stores (which do I/O) and parsers (which do
 * not). A parser asks for byte ranges and consumes them as streams, so a large tensor flows
 * from the network straight into its final typed array.
 * @module
 */

import { FormatError } from "../errors.ts";

/** A sized, random-access sequence of bytes. */
export interface ByteSource {
  /** Total length in bytes. */
  readonly size: number;
  /** Stream the bytes in [offset, offset + length). The stream must yield exactly `length` bytes or error. */
  stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>>;
  /**
   * Optional: fill `target` with the bytes at [offset, offset + target.length) directly, with
   * no intermediate chunks (a local file read straight into a tensor's final memory).
   */
  readInto?(offset: number, target: Uint8Array): Promise<void>;
}

/**
 * Read-only objects by path, as a domain reader needs them (a store offers this): list the
 * objects under a prefix with their sizes, and open one for ranged reads.
 */
export interface ObjectSource {
  /** Every object whose path starts with `prefix` ("" for all), with its size in bytes. */
  list(prefix: string): Promise<readonly { readonly path: string; readonly size: number }[]>;
  /** Open the object at `path`. */
  open(path: string): Promise<ByteSource>;
}

/** A ByteSource over bytes already in memory. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
      if (offset < 0 || length < 0 || offset + length > bytes.byteLength) {
        return Promise.reject(
          new FormatError("bytes", `range ${offset}+${length} outside ${bytes.byteLength} bytes`),
        );
      }
      const view = bytes.subarray(offset, offset + length);
      return Promise.resolve(
        new ReadableStream<Uint8Array>({
          start(controller) {
            // Hand out in 1 MiB pieces so consumers see realistic chunking.
            for (let i = 0; i < view.byteLength; i += 1 << 20) {
              controller.enqueue(view.subarray(i, Math.min(view.byteLength, i + (1 << 20))));
            }
            controller.close();
          },
        }),
      );
    },
  };
}

/**
 * Read a stream into `target`, which must be filled exactly: fewer bytes, or more, is a
 * FormatError (a truncated or oversized body). Returns `target`.
 */
export async function readInto(
  stream: ReadableStream<Uint8Array>,
  target: Uint8Array,
): Promise<Uint8Array> {
  let filled = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (filled + value.byteLength > target.byteLength) {
        throw new FormatError("stream", `more than the expected ${target.byteLength} bytes`);
      }
      target.set(value, filled);
      filled += value.byteLength;
    }
  } finally {
    reader.releaseLock();
  }
  if (filled !== target.byteLength) {
    throw new FormatError("stream", `ended after ${filled} of ${target.byteLength} bytes`);
  }
  return target;
}

/** Read [offset, offset + length) of a source into a new array. */
export async function readRange(
  source: ByteSource,
  range: { offset: number; length: number },
): Promise<Uint8Array> {
  const { offset, length } = range;
  if (offset < 0 || length < 0 || offset + length > source.size) {
    throw new FormatError("bytes", `range ${offset}+${length} outside ${source.size} bytes`);
  }
  return await readInto(await source.stream(offset, length), new Uint8Array(length));
}

/** The bytes of `source` from `start` on, as a source of their own (a file's embedded payload). */
export function tailSource(source: ByteSource, start: number): ByteSource {
  if (!Number.isSafeInteger(start) || start < 0 || start > source.size) {
    throw new FormatError("bytes", `offset ${start} outside ${source.size} bytes`);
  }
  const inner = source.readInto;
  return {
    size: source.size - start,
    stream: (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > source.size - start) {
        return Promise.reject(
          new FormatError(
            "bytes",
            `range ${offset}+${length} outside ${source.size - start} bytes`,
          ),
        );
      }
      return source.stream(start + offset, length);
    },
    readInto: inner ? (offset, target) => inner.call(source, start + offset, target) : undefined,
  };
}
