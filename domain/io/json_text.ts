/**
 * JSON text of an answer that holds typed arrays: each typed array is written as a list of its
 * numbers, exactly as `JSON.stringify(Array.from(a))` writes it. Pure; large answers are
 * written on a job worker so the request thread never spends long in it.
 * @module
 */

/** Typed arrays as lists; everything else as JSON.stringify writes it. */
function replacer(_key: string, value: unknown): unknown {
  return ArrayBuffer.isView(value) && !(value instanceof DataView)
    ? Array.from(value as unknown as ArrayLike<number>)
    : value;
}

/** The UTF-8 JSON text of `value`. */
export function jsonText(value: unknown): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(JSON.stringify(value, replacer));
}

/** Numbers `value` holds in typed arrays (how large its JSON text will be, roughly). */
export function typedNumbers(value: unknown): number {
  if (ArrayBuffer.isView(value)) return (value as unknown as ArrayLike<number>).length ?? 0;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + typedNumbers(v), 0);
  if (value && typeof value === "object") {
    let n = 0;
    for (const v of Object.values(value)) n += typedNumbers(v);
    return n;
  }
  return 0;
}
