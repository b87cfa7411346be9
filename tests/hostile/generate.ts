/**
 * One hostile request from the seeded stream: a template field of the wrong type or an
 * invalid number, a malformed body, a wrong content type, a hostile dictionary id, a bad .npy
 * body, a junk query, or a wrong method.
 * @module
 */

import { badNumbers, inOpaque, leaves, noteOf, otherType, setAt, toJsonText } from "./body.ts";
import { oversized, rawText, structural } from "./malformed.ts";
import { junkQuery, junkQueryRequest, npyRequest } from "./npy.ts";
import { type Hostile, JSON_HEADERS, jsonRequest } from "./request.ts";
import type { Rng } from "./rng.ts";
import { type Context, dimsOf, rows } from "./templates.ts";

/** Dictionary ids that must never reach a file or another dictionary (URL-encoded). */
const HOSTILE_IDS: readonly string[] = [
  "..%2F..%2Fetc",
  "..%2F..%2Fetc%2Fpasswd",
  "..",
  "%2E%2E",
  "%2E%2E%2F%2E%2E%2Fetc",
  "saelens_standard%2F..%2Fgemma_scope",
  "saelens_standard%2F.",
  "saelens_standard%2F",
  "%2Fsaelens_standard",
  "%2Fetc%2Fpasswd",
  "C%3A%5Cwindows",
  "saelens_standard%5C..",
  "saelens_standard%00",
  "%00",
  "a%0Ab",
  "a%0D%0AX-Injected%3A%201",
  "%7F",
  "%1B%5B31m",
  "%ZZ",
  "%",
  "%C0%AE%C0%AE",
  "%ED%A0%80",
  "%EF%BF%BF",
  "%F0%9F%92%A9",
  "saelens_standard%2Fsae_weights.safetensors",
  "saelens_standard%2Fcfg.json",
  "head_rms",
  // The registry's key for the loaded model head of steer_rms (loaded by the templates).
  "head%3Ahead_rms",
  "head:head_rms",
  "SAELENS_STANDARD",
  "saelens_standard%20",
  "%20",
  "saelens_standard%3F",
  "dicts",
  "x".repeat(1025),
  "x".repeat(20_000),
  "a%2F".repeat(600) + "b",
  "%2E%2E%2F".repeat(200) + "etc",
];

/** A random percent-encoded id. */
function randomId(rng: Rng): string {
  const n = 1 + rng.int(40);
  let s = "";
  for (let i = 0; i < n; i++) s += "%" + rng.int(256).toString(16).padStart(2, "0");
  return s;
}

/** Content types no route takes. */
const WRONG_TYPES: readonly (string | null)[] = [
  null,
  "",
  "text/plain",
  "text/csv",
  "text/html",
  "application/xml",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=xyz",
  "application/octet-stream",
  "application/jsonx",
  "application/json5",
  "json",
  "application/npy",
  "image/png",
  "application/x-npz",
  "*/*",
  "application/",
];

/** One hostile request. */
export function generate(rng: Rng, ctx: Context): Hostile {
  const t = rng.pick(ctx.templates);
  const text = (body: unknown) => toJsonText(body);
  const r = rng.next();

  // Field-level mutations of a valid template.
  if (r < 0.24) {
    // Wrong JSON type at a random field (anywhere, nested included).
    const all = leaves(t.body).filter(([p]) => p.length > 0);
    const [path, value] = rng.pick(all);
    const replacement = otherType(rng, value);
    // Labels may be booleans (numpy bool arrays' tolist()): false / true is no wrong type there.
    if (noteOf(t, path).num === "label" && typeof replacement === "boolean") {
      return generate(rng, ctx);
    }
    // Inside a probe document only the documented fields are typed.
    if (inOpaque(t, path) && !noteOf(t, path).num && !noteOf(t, path).required) {
      return generate(rng, ctx);
    }
    return {
      kind: "wrong type",
      what: `${t.name}: ${path.join(".")} = ${JSON.stringify(replacement)?.slice(0, 40)}`,
      url: t.path,
      init: jsonRequest(text(setAt(t.body, { path, value: replacement }))),
      expect: [400, 422],
    };
  }
  if (r < 0.44) {
    // An invalid number where a number belongs.
    const numeric = leaves(t.body).filter(([p, v]) =>
      typeof v === "number" && noteOf(t, p).num !== undefined
    );
    const [path] = rng.pick(numeric);
    const role = noteOf(t, path).num!;
    const positionsOf = t.body.activations as unknown[] | undefined;
    const choice = rng.pick(
      badNumbers(role, { dSae: dimsOf(ctx, t).dSae, rows: positionsOf?.length ?? 1 }),
    );
    return {
      kind: "bad number",
      what: `${t.name}: ${path.join(".")} (${role}) = ${String(choice.value).slice(0, 30)}`,
      url: t.path,
      init: jsonRequest(text(setAt(t.body, { path, value: choice.value }))),
      expect: [400, 422],
      overflow: choice.overflow,
    };
  }
  if (r < 0.54) {
    return structural(rng, { ctx, template: t });
  }
  if (r < 0.66) {
    return rawText(rng, t);
  }
  if (r < 0.71) {
    return oversized(rng, t);
  }
  if (r < 0.77) {
    const type = rng.pick(WRONG_TYPES);
    const headers: Record<string, string> = type === null ? {} : { "content-type": type };
    return {
      kind: "content type",
      what: `${t.name}: content-type ${JSON.stringify(type)}`,
      url: t.path,
      init: () => ({ method: "POST", headers, body: text(t.body) }),
      expect: [415],
    };
  }
  if (r < 0.86) {
    const id = rng.next() < 0.8 ? rng.pick(HOSTILE_IDS) : randomId(rng);
    const route = rng.pick([
      "",
      "/encode",
      "/decode",
      "/steer",
      "/features/stats",
      "/steering-vector",
    ]);
    const body = route === "/decode"
      ? { indices: [[0]], values: [[1]] }
      : route === "/steering-vector"
      ? { features: [{ feature: 0, strength: 1 }] }
      : route === "/steer"
      ? {
        activations: rows(1, 12),
        interventions: [{ feature: 0, mode: "add", value: 1 }],
      }
      : { activations: rows(1, 12) };
    return {
      kind: "hostile id",
      what: `${route || "GET"} ${id.slice(0, 60)}`,
      url: `/v1/dictionaries/${id}${route}${rng.next() < 0.3 ? junkQuery(rng) : ""}`,
      init: route === ""
        ? () => ({ method: "GET" })
        : () => ({ method: "POST", headers: JSON_HEADERS, body: JSON.stringify(body) }),
      expect: [404],
    };
  }
  if (r < 0.96) {
    return npyRequest(rng, ctx);
  }
  if (r < 0.99) {
    return junkQueryRequest(rng, ctx);
  }
  const method = rng.pick(["PUT", "DELETE", "PATCH"]);
  return {
    kind: "wrong method",
    what: `${method} ${t.path}`,
    url: t.path,
    init: () => ({ method, headers: JSON_HEADERS, body: text(t.body) }),
    expect: [405],
  };
}
