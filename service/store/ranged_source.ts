/**
 * Ranged ByteSources over HTTP: each read is one retried ranged GET whose answer is checked
 * (206 with the asked range, or a whole-object 200 cut to it) and whose body must carry
 * exactly the bytes asked.
 * @module
 */

import type { ByteSource } from "../../domain/io/byte_source.ts";
import { FormatError, SaeError } from "../../domain/errors.ts";
import { type FetchRetryOptions, fetchWithRetry, responseError, scrubbed } from "./http_fetch.ts";

/** Sends one attempt of a GET for the byte range in `range` (e.g. "bytes=0-9"). */
export type RangeFetcher = (range: string, signal: AbortSignal) => Promise<Response>;

/** Largest object read whole when the server ignores Range (the part asked is cut from it). */
export const WHOLE_OBJECT_MAX_BYTES = 16 << 20;

/**
 * A ByteSource over an object of `size` bytes read with ranged GETs. Each stream is one
 * request, retried only until its first byte; the answer must be 206 for exactly the range
 * asked (or 200 when the range is the whole object, or the object is at most
 * {@link WHOLE_OBJECT_MAX_BYTES} and the server ignored Range), and a body that breaks off, or
 * runs long or short, errors the stream with SaeError "unavailable".
 */

export function rangedSource(
  size: number,
  fetchRange: RangeFetcher,
  options: FetchRetryOptions,
): ByteSource {
  const { label } = options;
  return {
    size,
    async stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
      checkRange(offset, length, { size, label });
      if (length === 0) return new ReadableStream({ start: (c) => c.close() });
      const last = offset + length - 1;
      const response = await fetchWithRetry(
        (signal) => fetchRange(`bytes=${offset}-${last}`, signal),
        options,
      );
      const whole = offset === 0 && length === size;
      if (response.status === 200 && !whole) {
        // A server that ignores Range (python -m http.server) sent the whole object: small
        // objects (configs, explanation files) are cut here; weights need a server that honours it.
        const declared = declaredLength(response.headers);
        if (size > WHOLE_OBJECT_MAX_BYTES || response.body === null) {
          await response.body?.cancel();
          throw new SaeError(
            "unavailable",
            `${label}: the server ignored the Range header; objects over ` +
              `${WHOLE_OBJECT_MAX_BYTES >> 20} MiB need one that honours it (nginx, S3, most CDNs)`,
          );
        }
        if (declared !== null && declared !== size) {
          await response.body.cancel();
          throw new SaeError(
            "unavailable",
            `${label}: the server ignored the Range header and sent ${declared} of ${size} bytes`,
          );
        }
        // Read through the same guard as any body: at most `size` bytes, errors scrubbed.
        const whole = exactBody(response.body, { length: size, label });
        const all = new Uint8Array(await new Response(whole).arrayBuffer());
        const piece = all.slice(offset, offset + length);
        return new ReadableStream({ start: (c) => (c.enqueue(piece), c.close()) });
      }
      if (response.status !== 200 && response.status !== 206) {
        throw await responseError(response, label);
      }
      const range = contentRange(response.headers.get("content-range"));
      const declared = declaredLength(response.headers);
      if (
        (response.status === 206 && range && (range.start !== offset || range.end !== last)) ||
        (declared !== null && declared !== length) || response.body === null
      ) {
        await response.body?.cancel();
        throw new SaeError(
          "unavailable",
          `${label}: the store answered a different range than bytes ${offset}-${last}`,
        );
      }
      return exactBody(response.body, { length, label });
    },
  };
}

/** Options for {@link checkRange}. */
export interface CheckRangeOptions {
  /** The object's size in bytes. */
  readonly size: number;
  /** The object, as shown in errors. */
  readonly label: string;
}

/** Throw FormatError unless [offset, offset + length) is a range of whole bytes inside the object. */
export function checkRange(offset: number, length: number, options: CheckRangeOptions): void {
  const { size, label } = options;
  if (
    !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 ||
    offset + length > size
  ) {
    throw new FormatError("bytes", `range ${offset}+${length} outside ${size} bytes of ${label}`);
  }
}

interface ExactBodyOptions {
  readonly length: number;
  readonly label: string;
}

/** `body`, checked to carry exactly `length` bytes; breaks and mismatches are "unavailable". */
function exactBody(
  body: ReadableStream<Uint8Array>,
  options: ExactBodyOptions,
): ReadableStream<Uint8Array> {
  const { length, label } = options;
  const reader = body.getReader();
  let received = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        controller.error(
          new SaeError(
            "unavailable",
            `${label}: the connection broke after ${received} of ${length} bytes`,
            { cause: scrubbed(error) },
          ),
        );
        return;
      }
      if (chunk.done) {
        if (received === length) controller.close();
        else {
          controller.error(
            new SaeError(
              "unavailable",
              `${label}: the body ended after ${received} of ${length} bytes`,
            ),
          );
        }
        return;
      }
      received += chunk.value.byteLength;
      if (received > length) {
        await reader.cancel().catch(() => {});
        controller.error(
          new SaeError("unavailable", `${label}: more than the ${length} bytes asked`),
        );
        return;
      }
      controller.enqueue(chunk.value);
    },
    async cancel(reason): Promise<void> {
      await reader.cancel(reason);
    },
  });
}

/** A Content-Range header: each part null where it is "*". */
export interface ContentRange {
  readonly start: number | null;
  readonly end: number | null;
  readonly total: number | null;
}

/** The parsed Content-Range header, or null when absent or malformed. */
export function contentRange(header: string | null): ContentRange | null {
  if (!header) return null;
  const match = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i.exec(header.trim());
  if (!match) return null;
  const number = (text: string | undefined): number | null =>
    text === undefined || text === "*" ? null : Number(text);
  return { start: number(match[1]), end: number(match[2]), total: number(match[3]) };
}

/** Content-Length, when it is present and describes the bytes as stored (not encoded). */
export function declaredLength(headers: Headers): number | null {
  const encoding = headers.get("content-encoding");
  if (encoding && encoding.toLowerCase() !== "identity") return null;
  const text = headers.get("content-length");
  return text !== null && /^\d+$/.test(text.trim()) ? Number(text) : null;
}
