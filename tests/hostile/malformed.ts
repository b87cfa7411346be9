/**
 * Hostile requests whose body is malformed: its structure broken (unknown keys, missing
 * fields, empty arrays, ragged or wrong-width matrices), its JSON text broken (truncated,
 * deeply nested, bad tokens and bytes), or too large.
 * @module
 */

import { deleteAt, jsonType, leaves, noteOf, type Path, setAt } from "./body.ts";
import { npyBytes, npyDict, randomBytes } from "./npy.ts";
import { type Hostile, JSON_HEADERS, jsonRequest, MAX_BODY, NPY_HEADERS } from "./request.ts";
import type { Rng } from "./rng.ts";
import { type Context, dimsOf, rows, type Template } from "./templates.ts";

/** Deeply nested JSON of `depth` levels of `[` or `{"a":`. */
function deep(depth: number, kind: "array" | "object"): string {
  return kind === "array"
    ? "[".repeat(depth) + "]".repeat(depth)
    : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

/** A valid JSON body with its structure broken. */
export function structural(rng: Rng, on: { ctx: Context; template: Template }): Hostile {
  const { ctx, template: t } = on;
  const all = leaves(t.body);
  const n = rng.int(5);
  const base = { url: t.path };
  if (n === 0) {
    const objects = all.filter(([p, v]) => noteOf(t, p).strict && jsonType(v) === "object");
    const [path, obj] = rng.pick(objects);
    const key = rng.pick(["junk", "__proto__", "constructor", "prototype", "", "\u0000", "é"]);
    const edited = { ...(obj as object), [key]: rng.pick([1, "x", null, {}]) };
    return {
      ...base,
      kind: "unknown key",
      what: `${t.name}: ${path.join(".")}.${JSON.stringify(key)}`,
      init: jsonRequest(JSON.stringify(setAt(t.body, { path, value: edited }))),
      expect: [400],
    };
  }
  if (n === 1) {
    const required = all.filter(([p]) => p.length > 0 && noteOf(t, p).required);
    const [path] = rng.pick(required);
    return {
      ...base,
      kind: "missing field",
      what: `${t.name}: without ${path.join(".")}`,
      init: jsonRequest(JSON.stringify(deleteAt(t.body, path))),
      expect: [400, 422],
    };
  }
  if (n === 2) {
    const arrays = all.filter(([p, v]) => Array.isArray(v) && noteOf(t, p).nonEmpty);
    const [path] = rng.pick(arrays);
    return {
      ...base,
      kind: "empty array",
      what: `${t.name}: ${path.join(".")} = []`,
      init: jsonRequest(JSON.stringify(setAt(t.body, { path, value: [] }))),
      expect: [400, 422],
    };
  }
  const matrices = all.filter(([p]) => noteOf(t, p).matrix === "fixed");
  if (matrices.length === 0) return structural(rng, on);
  const [path, m] = rng.pick(matrices) as [Path, number[][]];
  if (n === 3) {
    const edited = m.map((r) => [...r]);
    const at = rng.int(edited.length);
    if (rng.next() < 0.5) edited[at].push(0.25);
    else edited[at].pop();
    if (edited.length === 1) edited.push([...m[0], 1]);
    return {
      ...base,
      kind: "ragged matrix",
      what: `${t.name}: ${path.join(".")} ragged at row ${at}`,
      init: jsonRequest(JSON.stringify(setAt(t.body, { path, value: edited }))),
      expect: [422],
    };
  }
  const dims = dimsOf(ctx, t);
  const width = path[0] === "codes" ? dims.dSae : dims.dIn;
  const w = rng.pick([1, width - 1, width + 1, width * 2]);
  return {
    ...base,
    kind: "wrong width",
    what: `${t.name}: ${path.join(".")} width ${w}`,
    init: jsonRequest(JSON.stringify(setAt(t.body, { path, value: rows(m.length, w) }))),
    expect: [422],
  };
}

/** JSON text that does not parse, nests too deep, or is not an object. */
export function rawText(rng: Rng, t: Template): Hostile {
  const valid = JSON.stringify(t.body);
  const n = rng.int(8);
  const base = { url: t.path, kind: "broken JSON" };
  if (n === 0) {
    const cut = rng.int(valid.length);
    return {
      ...base,
      what: `${t.name}: truncated at ${cut}`,
      init: jsonRequest(valid.slice(0, cut)),
      expect: [400],
    };
  }
  if (n === 1) {
    const kind = rng.pick(["array", "object"] as const);
    // 30,000 levels of `{"a":` would pass the body limit; 10,000 of them stay under it.
    const depth = kind === "array" ? rng.pick([10_000, 30_000]) : 10_000;
    const where = rng.int(3);
    const body = where === 0
      ? deep(depth, kind)
      : where === 1
      ? `{"activations": ${deep(depth, kind)}}`
      : valid.replace(/^\{"(\w+)":/, (_, key) => `{"${key}": ${deep(depth, kind)}, "__dup":`);
    return {
      ...base,
      kind: "deep nesting",
      what: `${t.name}: ${depth} levels of ${kind} (${["root", "activations", "field"][where]})`,
      init: jsonRequest(body),
      expect: [400, 422],
    };
  }
  if (n === 2) {
    const token = rng.pick([
      "NaN",
      "Infinity",
      "-Infinity",
      "+1",
      "01",
      ".5",
      "1.",
      "0x10",
      "1e",
      "--1",
      "undefined",
    ]);
    const body = valid.replace(/(-?\d+(\.\d+)?)(?=[,\]])/, token);
    return {
      ...base,
      what: `${t.name}: number spelled ${token}`,
      init: jsonRequest(body),
      expect: [400],
    };
  }
  if (n === 3) {
    const body = rng.pick([
      "",
      " ",
      "null",
      "true",
      "1",
      '"activations"',
      "[]",
      "[{}]",
      "{",
      "}",
      "{}}",
      "{,}",
      "{'a': 1}",
      '{"a" 1}',
      "\ufeff{}",
      '{"activations": [[1,2,]]}',
      "/* */{}",
      '{"a":1}//',
    ]);
    return {
      ...base,
      what: `${t.name}: body ${JSON.stringify(body)}`,
      init: jsonRequest(body),
      expect: [400, 422],
    };
  }
  if (n === 4) {
    const bytes = new TextEncoder().encode(valid);
    const out = new Uint8Array(bytes.length + 2);
    const at = 1 + rng.int(bytes.length - 2);
    out.set(bytes.subarray(0, at));
    out.set(rng.pick([[0xff, 0xfe], [0xc0, 0xae], [0xed, 0xa0], [0x00, 0x00]]), at);
    out.set(bytes.subarray(at), at + 2);
    return {
      ...base,
      what: `${t.name}: invalid bytes at ${at}`,
      init: jsonRequest(out),
      expect: [400],
    };
  }
  if (n === 5) {
    const bytes = randomBytes(rng, 1 + rng.int(3000));
    return {
      ...base,
      what: `${t.name}: random bytes as JSON`,
      init: jsonRequest(bytes),
      expect: [400],
    };
  }
  if (n === 6) {
    // Valid JSON, but the body is not an object.
    const body = rng.pick([`[${valid}]`, JSON.stringify(valid), `${valid}${valid}`]);
    return { ...base, what: `${t.name}: wrapped`, init: jsonRequest(body), expect: [400] };
  }
  if (!valid.includes("[[")) return rawText(rng, t);
  const body = valid.replace(/\[\[/, "[[" + "[".repeat(1 + rng.int(5)));
  return {
    ...base,
    what: `${t.name}: extra brackets`,
    init: jsonRequest(body),
    expect: [400, 422],
  };
}

/** A body past the limit: declared, streamed, or as .npy. */
export function oversized(rng: Rng, t: Template): Hostile {
  const n = rng.int(5);
  const filler = JSON.stringify({ ...t.body, pad: "x".repeat(MAX_BODY) });
  const base = { url: t.path, kind: "oversized", expect: [413] as const };
  if (n === 0) {
    return { ...base, what: `${t.name}: ${filler.length} bytes`, init: jsonRequest(filler) };
  }
  if (n === 1) {
    return {
      ...base,
      what: `${t.name}: ${filler.length} bytes with content-length`,
      init: jsonRequest(filler, { ...JSON_HEADERS, "content-length": String(filler.length) }),
    };
  }
  if (n === 2) {
    const chunks = 70 + rng.int(200);
    return {
      ...base,
      what: `${t.name}: ${chunks} streamed 1 KiB chunks`,
      init: () => ({
        method: "POST",
        headers: JSON_HEADERS,
        body: new ReadableStream({
          start(c) {
            for (let i = 0; i < chunks; i++) c.enqueue(new Uint8Array(1024).fill(0x20));
            c.close();
          },
        }),
      }),
    };
  }
  if (n === 3) {
    const declared = rng.pick([String(MAX_BODY + 1), "99999999999", "1e12"]);
    return {
      ...base,
      what: `${t.name}: content-length ${declared} (body small)`,
      init: jsonRequest(JSON.stringify(t.body), { ...JSON_HEADERS, "content-length": declared }),
    };
  }
  const width = 12;
  const count = Math.ceil((MAX_BODY + 1) / (4 * width)) + rng.int(100);
  return {
    ...base,
    url: "/v1/dictionaries/saelens_standard/encode",
    what: `npy of ${count} rows`,
    init: () => ({
      method: "POST",
      headers: NPY_HEADERS,
      body: npyBytes(npyDict("<f4", `(${count}, ${width})`), new Uint8Array(count * width * 4)),
    }),
  };
}
