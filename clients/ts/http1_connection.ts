/**
 * One socket of http1Fetch and the bytes it has delivered but nobody has consumed yet: reads up
 * to a delimiter, of an exact length, or to the end, and whether a failure came before any byte
 * of the answer (the only case in which a request may be sent again).
 * @module
 */

import type net from "node:net";
import { concatBytes } from "./concat_bytes.ts";

/** The connection closed before any byte of the answer: a pooled one may have gone stale. */
export class ConnectionLost extends Error {}

/** First index of `needle` in `haystack` at or after `from`; -1 if none. */
function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const last = haystack.byteLength - needle.byteLength;
  outer: for (let i = from; i <= last; i++) {
    for (let j = 0; j < needle.byteLength; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** A socket and its unread bytes; one exchange at a time. */
export class Connection {
  readonly socket: net.Socket;
  #chunks: Uint8Array<ArrayBuffer>[] = [];
  #size = 0;
  /** Whether `#chunks` is one array this class allocated (a view of it may be handed out). */
  #owned = false;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  /** Whether any byte arrived since the last `begin()`. */
  received = false;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (b: Uint8Array) => {
      // A plain view, so that slice() copies (Buffer's slice does not).
      this.#chunks.push(new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength));
      this.#owned = false;
      this.#size += b.byteLength;
      this.received = true;
      this.#notify();
    });
    const ended = () => {
      this.#ended = true;
      this.#notify();
    };
    socket.on("end", ended);
    socket.on("close", ended);
    socket.on("error", (e: Error) => {
      this.#error = e;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Whether it can carry another exchange. */
  get usable(): boolean {
    return !this.#ended && !this.#error && this.#size === 0 && !this.socket.destroyed;
  }

  /** Start an exchange. */
  begin(): void {
    this.received = false;
  }

  /**
   * Wait until more bytes arrive; false once the peer has closed. A reset or end before any
   * byte of the answer is ConnectionLost.
   */
  async #more(): Promise<boolean> {
    const before = this.#size;
    if (!this.#error && !this.#ended) await new Promise<void>((r) => this.#wake = r);
    if (this.#error) {
      throw this.received ? this.#error : new ConnectionLost(String(this.#error));
    }
    if (this.#ended && !this.received) throw new ConnectionLost("closed before answering");
    return this.#size > before || !this.#ended;
  }

  /** Every pending byte as one array (joined when several chunks are pending). */
  #joined(): Uint8Array<ArrayBuffer> {
    if (this.#chunks.length > 1) {
      this.#chunks = [concatBytes(this.#chunks)];
      this.#owned = true;
    }
    return this.#chunks[0] ?? new Uint8Array(0);
  }

  /**
   * The first `n` pending bytes, consumed: a view when they were joined here, else a copy (a
   * socket's own buffer is never handed out).
   */
  #take(n: number): Uint8Array<ArrayBuffer> {
    const all = this.#joined();
    const out = this.#owned ? all.subarray(0, n) : all.slice(0, n);
    const rest = all.subarray(n);
    this.#chunks = rest.byteLength ? [rest] : [];
    this.#size = rest.byteLength;
    return out;
  }

  /** The bytes up to `delimiter` (excluded, consumed with it); at most `limit` bytes. */
  async until(delimiter: Uint8Array, limit: number): Promise<Uint8Array> {
    for (let from = 0;;) {
      const all = this.#joined();
      const at = indexOf(all, delimiter, from);
      if (at > limit || (at < 0 && all.byteLength > limit)) {
        throw new TypeError("the answer's head is too long");
      }
      if (at >= 0) {
        const line = this.#take(at);
        this.#take(delimiter.byteLength);
        return line;
      }
      from = Math.max(0, all.byteLength - delimiter.byteLength + 1);
      if (!await this.#more()) throw new TypeError("the answer was cut off");
    }
  }

  /** Exactly `n` bytes. */
  async exactly(n: number): Promise<Uint8Array<ArrayBuffer>> {
    while (this.#size < n) {
      if (!await this.#more()) throw new TypeError("the answer was cut off");
    }
    return this.#take(n);
  }

  /** Every byte until the peer closes. */
  async rest(): Promise<Uint8Array<ArrayBuffer>> {
    while (await this.#more()) { /* gather */ }
    return this.#take(this.#size);
  }
}
