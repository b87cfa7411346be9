/**
 * Hostile .npy bodies (random bytes, absurd shapes, wrong dtypes, lying headers, wrong widths)
 * and junk query strings for the routes that take .npy.
 * @module
 */

import type { Rng } from "./rng.ts";
import { type Bytes, type Hostile, NPY_HEADERS } from "./request.ts";
import { type Context, DICTS, row } from "./templates.ts";

/** An .npy file from a header dict text and data bytes (any lie in the header is kept). */
export function npyBytes(dict: string, data: Bytes, options?: { version?: number }): Bytes {
  const version = options?.version ?? 1;
  const pre = version === 1 ? 10 : 12;
  let text = dict;
  while ((pre + text.length + 1) % 64 !== 0) text += " ";
  text += "\n";
  const header = new TextEncoder().encode(text);
  const out = new Uint8Array(pre + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(header, pre);
  out.set(data, pre + header.length);
  return out;
}

/** An .npy header dict text. */
export function npyDict(descr: string, shape: string): string {
  return `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
}

/** The bytes of `values` as f32. */
export function f32Bytes(values: number[]): Bytes {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** `n` bytes drawn from `rng`. */
export function randomBytes(rng: Rng, n: number): Bytes {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(256);
  return out;
}

/** Bad .npy bodies for a route expecting [rows, width]. */
export function badNpy(rng: Rng, width: number): { what: string; bytes: Bytes } {
  const n = rng.int(17);
  const ok = f32Bytes(row(width));
  switch (n) {
    case 0:
      return { what: "random bytes", bytes: randomBytes(rng, rng.int(4000)) };
    case 1: {
      const b = randomBytes(rng, 10 + rng.int(2000));
      b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1 + rng.int(3), 0]);
      return { what: "magic then random bytes", bytes: b };
    }
    case 2:
      return { what: "empty body", bytes: new Uint8Array(0) };
    case 3: {
      const shape = rng.pick([
        `(1000000000000000, ${width})`,
        `(${width}, 1000000000000000)`,
        "(2147483648, 2147483648)",
        "(9999999999999999, 9999999999999999)",
        `(4294967296, ${width})`,
        `(3, ${width})`,
      ]);
      return { what: `absurd shape ${shape}`, bytes: npyBytes(npyDict("<f4", shape), ok) };
    }
    case 4: {
      const shape = rng.pick([`(0, ${width})`, "(1, 0)", "(0,)", "()", `(${width + 1},)`]);
      return { what: `empty or scalar shape ${shape}`, bytes: npyBytes(npyDict("<f4", shape), ok) };
    }
    case 5: {
      const shape = rng.pick([
        `(1, 1, ${width})`,
        "(1, 1, 1, 1, 1, 1, 1, 1, 1)",
        `(1, ${width}, 1)`,
      ]);
      const count = shape.includes(", 1, 1, 1") ? 1 : width;
      return {
        what: `rank shape ${shape}`,
        bytes: npyBytes(npyDict("<f4", shape), f32Bytes(row(count))),
      };
    }
    case 6: {
      const descr = rng.pick(["<i4", "<i8", "|u1", "<c8", "|b1", "<U4", "O", "|V4", "<f16", "<m8"]);
      return {
        what: `dtype ${descr}`,
        bytes: npyBytes(npyDict(descr, `(1, ${width})`), new Uint8Array(width * 16)),
      };
    }
    case 7: {
      const vals = row(width);
      vals[rng.int(width)] = rng.pick([NaN, Infinity, -Infinity]);
      return {
        what: "non-finite f4",
        bytes: npyBytes(npyDict("<f4", `(1, ${width})`), f32Bytes(vals)),
      };
    }
    case 8: {
      const data = new Float64Array(row(width));
      data[rng.int(width)] = rng.pick([1e308, -1e308, 1e39]);
      return {
        what: "f8 past the f32 range",
        bytes: npyBytes(npyDict("<f8", `(1, ${width})`), new Uint8Array(data.buffer)),
      };
    }
    case 9: {
      const cut = ok.subarray(0, ok.length - 1 - rng.int(4));
      return { what: "data one short", bytes: npyBytes(npyDict("<f4", `(1, ${width})`), cut) };
    }
    case 10: {
      const more = new Uint8Array(ok.length + 1 + rng.int(4));
      more.set(ok);
      return { what: "data too long", bytes: npyBytes(npyDict("<f4", `(1, ${width})`), more) };
    }
    case 11: {
      const dict = rng.pick([
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, -3), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1.5, 2), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), 'extra': 1, }",
        "{'descr': '<f4', 'fortran_order': False, }",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
        "{'descr': '<f4, 'fortran_order': False, 'shape': (1, 2), }",
        "{'descr': '<f4', 'fortran_order': maybe, 'shape': (1, 2), }",
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1, 2), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), } trailing",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2)",
        "not a dict at all",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "1, ".repeat(3000) + "), }",
        "{" + "'k': 1, ".repeat(2000) + "}",
      ]);
      return { what: "broken header dict", bytes: npyBytes(dict, ok) };
    }
    case 12: {
      const b = npyBytes(npyDict("<f4", `(1, ${width})`), ok);
      new DataView(b.buffer).setUint16(8, rng.pick([0, 1, 0xffff, b.length]), true);
      return { what: "header length lies", bytes: b };
    }
    case 13: {
      const b = npyBytes(npyDict("<f4", `(1, ${width})`), ok, { version: 2 });
      new DataView(b.buffer).setUint32(8, rng.pick([0xffffffff, 2 ** 31, 1 << 21]), true);
      return { what: "v2 header length lies", bytes: b };
    }
    case 14: {
      const b = npyBytes(npyDict("<f4", `(1, ${width})`), ok);
      b[6] = rng.pick([0, 4, 9, 255]);
      return { what: `version ${b[6]}`, bytes: b };
    }
    case 15: {
      const b = npyBytes(npyDict("<f4", `(1, ${width})`), ok, { version: 3 });
      const header = b.subarray(12, 40);
      header[rng.int(header.length)] = 0xff; // invalid UTF-8 in a v3 header
      return { what: "v3 header not UTF-8", bytes: b };
    }
    default: {
      const w = width + 1 + rng.int(5);
      return {
        what: `wrong width ${w}`,
        bytes: npyBytes(npyDict("<f4", `(1, ${w})`), f32Bytes(row(w))),
      };
    }
  }
}

/** A bad .npy body to an .npy-taking route (or a JSON-only one, which refuses the type). */
export function npyRequest(rng: Rng, ctx: Context): Hostile {
  const id = rng.pick(DICTS);
  const route = rng.pick(["encode", "decode", "steer", "features/stats", "steering-vector"]);
  const width = route === "decode" ? ctx.dims[id].dSae : ctx.dims[id].dIn;
  const { what, bytes } = badNpy(rng, width);
  const query = route === "steer"
    ? "?interventions=" + encodeURIComponent('[{"feature":0,"mode":"add","value":1}]')
    : "";
  return {
    kind: "bad npy",
    what: `${id}/${route}: ${what}`,
    url: `/v1/dictionaries/${id}/${route}${query}`,
    init: () => ({ method: "POST", headers: NPY_HEADERS, body: bytes }),
    // features/stats takes .npy too (api.md: every endpoint taking activations); the
    // steering vector, which takes none, refuses the media type.
    expect: route === "steering-vector" ? [415] : [400, 422],
  };
}

/** A query string with at least one parameter an .npy encode or steer refuses. */
export function junkQuery(rng: Rng): string {
  const bad = [
    "top=abc",
    "top=0",
    "top=-1",
    "top=0.5",
    "top=1e400",
    "top=",
    "top=%00",
    "include=bogus",
    "include=%00",
    "include=reconstruction,,%FF",
    "colour=red",
    "interventions=%7B",
    "interventions=%5B%5D",
    "interventions=null",
    "interventions=" + encodeURIComponent('[{"feature":1e400,"mode":"add","value":1}]'),
    "interventions=" + encodeURIComponent('[{"feature":99999,"mode":"add","value":1}]'),
    "interventions=" + encodeURIComponent('[{"feature":0,"mode":"boost","value":1}]'),
    "%ZZ=%ZZ",
    "a".repeat(5000) + "=1",
  ];
  const harmless = ["__proto__=1", "constructor=x", "&&&", "=", "x"];
  const parts = [rng.pick(bad)];
  for (let i = rng.int(3); i > 0; i--) parts.push(rng.pick([...bad, ...harmless]));
  for (let i = parts.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [parts[i], parts[j]] = [parts[j], parts[i]];
  }
  return "?" + parts.join("&");
}

/** A valid .npy body with a query string the route refuses. */
export function junkQueryRequest(rng: Rng, ctx: Context): Hostile {
  const id = rng.pick(DICTS);
  const route = rng.pick(["encode", "steer"]);
  let q = junkQuery(rng);
  // The encode route reads only top and include: make sure one of those (or an unknown key)
  // is broken; steer needs its interventions broken or an unknown key present.
  if (
    route === "encode" &&
    !/(^|[?&])(top=(?!1(&|$)|2(&|$))|include=|colour=|%ZZ|a{5000}|interventions)/.test(q)
  ) {
    q += "&colour=red";
  }
  if (route === "steer") {
    q = q.replace(/(^|[?&])(top|include)=[^&]*/g, "$1colour=red");
    if (!/interventions=/.test(q)) q += "&interventions=%7B";
  }
  const bytes = npyBytes(
    npyDict("<f4", `(1, ${ctx.dims[id].dIn})`),
    f32Bytes(row(ctx.dims[id].dIn)),
  );
  return {
    kind: "junk query",
    what: `${id}/${route}${q.slice(0, 100)}`,
    url: `/v1/dictionaries/${id}/${route}${q}`,
    init: () => ({ method: "POST", headers: NPY_HEADERS, body: bytes }),
    expect: [400, 422],
  };
}
