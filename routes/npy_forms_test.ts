/**
 * api.md: "Every endpoint that takes activations accepts either JSON or binary .npy". For every
 * operation whose OpenAPI entry takes an .npy body, its documented examples are sent both ways
 * (the .npy form with the other fields in the query string, structured ones as JSON, comma
 * lists where the document says so) and must be answered the same.
 * @module
 */

import assert from "node:assert/strict";
import { encodeNpy } from "../domain/io/npy.ts";
import { testApp } from "../tests/helpers.ts";
import { type DocumentedExample, documentedExamples } from "../tests/openapi_examples.ts";
import { fileStore } from "../service/store/file.ts";

/** The demo store the documented examples name. */
const DEMO = new URL("../dictionaries", import.meta.url).pathname;

/** The request's fields but `activations`, as a query string. */
function queryOf(body: Record<string, unknown>, params: DocumentedExample["query"]): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(body)) {
    if (key === "activations") continue;
    const comma = params.find((p) => p.name === key)?.description?.includes(
      "comma list",
    );
    if (Array.isArray(value) && comma) q.set(key, value.join(","));
    else if (typeof value === "object" || typeof value === "boolean") {
      q.set(key, JSON.stringify(value));
    } else q.set(key, String(value));
  }
  return q.toString();
}

/** An answer as comparable data: JSON parsed, anything else its bytes. */
async function contentOf(res: Response): Promise<unknown> {
  const type = res.headers.get("content-type") ?? "";
  return type.includes("json") ? await res.json() : [...new Uint8Array(await res.arrayBuffer())];
}

Deno.test("every endpoint taking activations answers its examples the same as .npy and as JSON", async () => {
  const { app, registry } = testApp({ store: fileStore(DEMO) });
  try {
    const covered: string[] = [];
    for (const ex of await documentedExamples(app)) {
      if (!ex.media.includes("application/x-npy")) continue;
      const rows = ex.body.activations as number[][] | number[] | undefined;
      if (!Array.isArray(rows)) continue;
      const matrix = (typeof rows[0] === "number" ? [rows] : rows) as number[][];
      const viaJson = await app.request(ex.url, {
        method: ex.method.toUpperCase(),
        headers: { "content-type": "application/json" },
        body: JSON.stringify(ex.body),
      });
      const what = `${ex.method} ${ex.path} (${ex.name})`;
      assert.equal(viaJson.status, 200, `${what} JSON: ${await viaJson.clone().text()}`);
      const viaNpy = await app.request(`${ex.url}?${queryOf(ex.body, ex.query)}`, {
        method: ex.method.toUpperCase(),
        headers: { "content-type": "application/x-npy", accept: "application/json" },
        body: encodeNpy(Float32Array.from(matrix.flat()), [matrix.length, matrix[0].length]),
      });
      assert.equal(viaNpy.status, 200, `${what} .npy: ${await viaNpy.clone().text()}`);
      assert.deepEqual(await contentOf(viaNpy), await contentOf(viaJson), what);
      covered.push(`${ex.method} ${ex.path}`);
    }
    const endpoints = new Set(covered);
    for (
      const expected of [
        "post /v1/dictionaries/{id}/encode",
        "post /v1/dictionaries/{id}/steer",
        "post /v1/dictionaries/{id}/features/input-score",
        "post /v1/dictionaries/{id}/features/output-score/prepare",
        "post /v1/dictionaries/{id}/features/stats",
        "post /v1/dictionaries/{id}/heatmap",
        "post /v1/dictionaries/{id}/features/semantic-probe",
        "post /v1/probes/train",
        "post /v1/probes/predict",
        "post /v1/aligned/{id}/translate",
      ]
    ) assert.ok(endpoints.has(expected), `${expected} was not tried: ${[...endpoints]}`);
  } finally {
    registry.close();
  }
});
