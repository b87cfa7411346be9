/**
 * Byte arrays joined end to end: the answer chunks of one socket, a chunked body's parts, an
 * inflated member's pieces.
 * @module
 */

/** `parts` joined into one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const p of parts) size += p.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
