/**
 * Walking and editing a template body, and the bad values a field can take: other JSON types,
 * and numbers out of a field's range (including ones JSON.stringify cannot write).
 * @module
 */

import type { Rng } from "./rng.ts";
import type { Annotation, NumRole, Template } from "./templates.ts";

// JSON with raw tokens: numbers JSON.stringify cannot write (1e400, NaN, Infinity) are carried
// as marker strings and spliced into the text afterwards.

const RAW_MARK = "\u0001raw:";
/** A raw JSON token carried as a marker string. */
const raw = (token: string): string => `${RAW_MARK}${token}`;
const RAW_RE = /"\\u0001raw:([^"]*)"/g;

/** JSON text with the raw tokens spliced in. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value).replace(RAW_RE, (_, token: string) => token);
}

/** A path into a JSON value: keys and indices. */
export type Path = (string | number)[];

/** Every node of `value` with its path, the root first (depth first, in key order). */
export function leaves(value: unknown): [Path, unknown][] {
  const out: [Path, unknown][] = [];
  const walk = (v: unknown, path: Path): void => {
    out.push([path, v]);
    if (Array.isArray(v)) v.forEach((e, i) => walk(e, [...path, i]));
    else if (v && typeof v === "object") {
      for (const [k, e] of Object.entries(v)) walk(e, [...path, k]);
    }
  };
  walk(value, []);
  return out;
}

function matches(pattern: string, path: Path): boolean {
  const parts = pattern === "" ? [] : pattern.split(".");
  return parts.length === path.length &&
    parts.every((p, i) => p === "*" ? typeof path[i] === "number" : p === String(path[i]));
}

/** The annotation of the field at `path` of `t` (none: `{}`). */
export function noteOf(t: Template, path: Path): Annotation {
  for (const [pattern, note] of Object.entries(t.notes)) if (matches(pattern, path)) return note;
  return {};
}

/** Whether `path` lies inside an opaque subtree (a probe document). */
export function inOpaque(t: Template, path: Path): boolean {
  for (let n = 1; n < path.length; n++) if (noteOf(t, path.slice(0, n)).opaque) return true;
  return false;
}

/** A copy of `body` with `edit.value` at `edit.path`. */
export function setAt(body: unknown, edit: { path: Path; value: unknown }): unknown {
  const { path, value } = edit;
  if (path.length === 0) return value;
  const copy = structuredClone(body) as Record<string | number, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  at[path[path.length - 1]] = value;
  return copy;
}

/** A copy of `body` without the key at `path`. */
export function deleteAt(body: unknown, path: Path): unknown {
  const copy = structuredClone(body) as Record<string | number, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  delete at[path[path.length - 1]];
  return copy;
}

/** The JSON type of `v`. */
export function jsonType(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/** A value of another JSON type than `v`. */
export function otherType(rng: Rng, v: unknown): unknown {
  const pool: unknown[] = [
    null,
    true,
    false,
    "",
    "1",
    "NaN",
    "activations",
    "\u0000\u001b[31m",
    "x".repeat(300),
    {},
    { "0": 1 },
    JSON.parse('{"__proto__": {"polluted": true}}'),
    [],
    [[]],
    [1, "a"],
    [null],
    0,
    1,
    -1,
    3.5,
  ];
  while (true) {
    const c = rng.pick(pool);
    if (jsonType(c) !== jsonType(v)) return c;
  }
}

/** Non-finite or out-of-f32 tokens that break any number. */
const NON_FINITE = [raw("1e400"), raw("-1e400"), raw("NaN"), raw("Infinity"), raw("-Infinity")];

/** Numbers that are invalid for a leaf of `role`; `overflow` marks finite-but-huge values. */
export function badNumbers(
  role: NumRole,
  ctx: { dSae: number; rows: number },
): { value: unknown; overflow?: boolean }[] {
  const v = (xs: unknown[]) => xs.map((value) => ({ value }));
  const ints = [0.5, -0.25, 1e308, -1e308, 2 ** 53, -(2 ** 53), ...NON_FINITE];
  switch (role) {
    case "cell":
      return v([1e39, -1e39, 1e308, -1e308, 3.5e38, ...NON_FINITE]);
    case "scalar":
      // Finite but past f32: allowed through validation; see the known-issue note below.
      return [
        ...v(NON_FINITE),
        ...[1e308, -1e308, 1e39].map((value) => ({ value, overflow: true })),
      ];
    case "f64":
      return v(NON_FINITE);
    case "feature":
      return v([...ints, -1, ctx.dSae, ctx.dSae + 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 40]);
    case "position":
      return v([...ints, -1, ctx.rows, 2 ** 31, 2 ** 32, 2 ** 32 + 1]);
    case "tokenId":
      return v([...ints, -1]);
    case "exampleId":
      return v([0.5, 1e308, -1e308, 2 ** 53, ...NON_FINITE]);
    case "count":
      return v([...ints, 0, -1]);
    case "top1000":
      return v([...ints, 0, -1, 1001, 1e6]);
    case "label":
      return v([2, -1, 0.5, 1e308, ...NON_FINITE]);
    case "layer":
      return v([...ints, 0, -1, 2 ** 31, 2 ** 40]);
    case "seed":
      return v([0.5, 1e308, -1e308, 2 ** 53, ...NON_FINITE]);
  }
}
