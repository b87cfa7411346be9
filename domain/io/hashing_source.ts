/**
 * A ByteSource wrapper that computes a file's SHA-256 from the reads a parser already makes.
 * The hash advances in order: a read that covers the current hash position hashes its bytes
 * from there on as they flow to the parser; other reads (header peeks, zip directory tails)
 * pass through untouched. `finish()` then fetches only what was never streamed in order, so
 * a parser reading front to back costs one download and any access pattern gives the digest.
 * @module
 */

import { createHash } from "node:crypto";
import type { ByteSource } from "./byte_source.ts";
import { FormatError } from "../errors.ts";

/** A hashing wrapper: hand `source` to the parser, then await `finish()` for the digest. */
export interface HashingSource {
  /** The wrapped source; reads behave exactly as on the original. */
  readonly source: ByteSource;
  /**
   * Hash whatever the reads so far left out, from the hash position to the end, and return
   * the lowercase hex SHA-256 of the whole object. Later calls return the same digest.
   */
  finish(): Promise<string>;
}

/** Wrap `source` so that the bytes streamed through it, in order, feed a SHA-256. */
export function hashingSource(source: ByteSource): HashingSource {
  const hash = createHash("sha256");
  let position = 0;
  // The stream currently advancing the hash, if any. A newer read that covers the hash
  // position takes over (so an abandoned stream never blocks hashing), retiring the old one.
  let claim: object | null = null;
  let finished: Promise<string> | null = null;

  const hashed = (
    inner: ReadableStream<Uint8Array>,
    offset: number,
    length: number,
  ): ReadableStream<Uint8Array> => {
    const token = {};
    claim = token;
    const end = offset + length;
    let at = offset;
    const reader = inner.getReader();
    const release = (): void => {
      if (claim === token) claim = null;
    };
    return new ReadableStream<Uint8Array>({
      async pull(controller): Promise<void> {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          release();
          controller.error(error);
          return;
        }
        if (chunk.done) {
          release();
          controller.close();
          return;
        }
        const bytes = chunk.value;
        const chunkEnd = Math.min(end, at + bytes.byteLength);
        if (claim === token && at <= position && position < chunkEnd) {
          hash.update(bytes.subarray(position - at, chunkEnd - at));
          position = chunkEnd;
        }
        at += bytes.byteLength;
        controller.enqueue(bytes);
      },
      async cancel(reason): Promise<void> {
        release();
        await reader.cancel(reason);
      },
    });
  };

  const readInto = source.readInto?.bind(source);
  const wrapped: ByteSource = {
    size: source.size,
    readInto: readInto &&
      (async (offset: number, target: Uint8Array): Promise<void> => {
        await readInto(offset, target);
        const end = offset + target.byteLength;
        if (finished === null && claim === null && offset <= position && position < end) {
          hash.update(target.subarray(position - offset));
          position = end;
        }
      }),
    async stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
      const inner = await source.stream(offset, length);
      const covers = offset <= position && position < offset + length;
      if (finished !== null || !covers) return inner;
      return hashed(inner, offset, length);
    },
  };

  const finish = async (): Promise<string> => {
    claim = {}; // retire any stream still open: from here on only finish() advances the hash
    if (position < source.size) {
      const reader = (await source.stream(position, source.size - position)).getReader();
      try {
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          const take = Math.min(value.byteLength, source.size - position);
          hash.update(value.subarray(0, take));
          position += take;
        }
      } finally {
        reader.releaseLock();
      }
    }
    if (position !== source.size) {
      throw new FormatError("stream", `ended after ${position} of ${source.size} bytes`);
    }
    return hash.digest("hex");
  };

  return {
    source: wrapped,
    finish(): Promise<string> {
      // A failed finish may be retried: it resumes from wherever the hash got to.
      finished ??= finish().catch((error) => {
        finished = null;
        throw error;
      });
      return finished;
    },
  };
}
