/**
 * Inputs near the f32 limit: every documented example of every endpoint, its activations scaled
 * to about 3e38 (finite in f32, but sums over them overflow), is answered either with a 4xx
 * problem or with finite numbers: never a 200 carrying null where a number belongs.
 * @module
 */

import assert from "node:assert/strict";
import { testApp } from "../tests/helpers.ts";
import { documentedExamples } from "../tests/openapi_examples.ts";
import { fileStore } from "../service/store/file.ts";

const DEMO = new URL("../dictionaries", import.meta.url).pathname;

/** `rows` with every number replaced by +-3e38 (the sign of the original, + for zero). */
function huge(rows: unknown): unknown {
  if (Array.isArray(rows)) return rows.map(huge);
  return typeof rows === "number" ? (rows < 0 ? -3e38 : 3e38) : rows;
}

/** Paths in `value` where a null stands. */
function nulls(value: unknown, path = "$"): string[] {
  if (value === null) return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => nulls(v, `${path}[${i}]`));
  if (typeof value === "object") {
    return Object.entries(value as object).flatMap(([k, v]) => nulls(v, `${path}.${k}`));
  }
  return [];
}

Deno.test("activations near the f32 limit get a 4xx or finite numbers from every endpoint", async () => {
  const { app, registry } = testApp({ store: fileStore(DEMO) });
  try {
    let tried = 0;
    for (const ex of await documentedExamples(app)) {
      const body = { ...ex.body };
      let changed = false;
      for (const key of ["activations", "positive", "negative"]) {
        if (Array.isArray(body[key])) {
          body[key] = huge(body[key]);
          changed = true;
        }
      }
      if (!changed) continue;
      const res = await app.request(ex.url, {
        method: ex.method.toUpperCase(),
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const what = `${ex.method} ${ex.path} (${ex.name}): ${res.status}`;
      tried++;
      if (res.status >= 400) {
        assert.ok(res.status < 500, what);
        await res.body?.cancel();
        continue;
      }
      if (!(res.headers.get("content-type") ?? "").includes("json")) {
        await res.body?.cancel();
        continue;
      }
      const answer = await res.json();
      assert.deepEqual(nulls(answer).slice(0, 5), [], `${what} answered null`);
    }
    assert.ok(tried >= 12, `only ${tried} examples carried activations`);
  } finally {
    registry.close();
  }
});
