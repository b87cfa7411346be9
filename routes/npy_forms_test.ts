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
import { fileStore } from "../service/store/file.ts";

/** The demo store the documented examples name. */
const DEMO = new URL("../dictionaries", import.meta.url).pathname;

interface Param {
  name: string;
  in: string;
  description?: string;
  examples?: Record<string, { value: string }>;
}
interface Op {
  parameters?: Param[];
  requestBody?: { content: Record<string, { examples?: Record<string, { value: unknown }> }> };
}

/** The request's fields but `activations`, as a query string. */
function queryOf(body: Record<string, unknown>, params: Param[]): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(body)) {
    if (key === "activations") continue;
    const comma = params.find((p) => p.in === "query" && p.name === key)?.description?.includes(
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
    const doc = await (await app.request("/openapi.json")).json();
    const covered: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Op>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const content = op.requestBody?.content ?? {};
        if (!content["application/x-npy"]) continue;
        for (const [name, example] of Object.entries(content["application/json"]?.examples ?? {})) {
          const body = example.value as Record<string, unknown>;
          const rows = body.activations as number[][] | number[] | undefined;
          if (!Array.isArray(rows)) continue;
          const matrix = (typeof rows[0] === "number" ? [rows] : rows) as number[][];
          const params = op.parameters ?? [];
          const url = path.replace(/\{(\w+)\}/g, (_, p) =>
            encodeURIComponent(
              params.find((x) => x.in === "path" && x.name === p)?.examples?.[name]?.value ?? "x",
            ));
          const viaJson = await app.request(url, {
            method: method.toUpperCase(),
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          });
          const what = `${method} ${path} (${name})`;
          assert.equal(viaJson.status, 200, `${what} JSON: ${await viaJson.clone().text()}`);
          const viaNpy = await app.request(`${url}?${queryOf(body, params)}`, {
            method: method.toUpperCase(),
            headers: { "content-type": "application/x-npy", accept: "application/json" },
            body: encodeNpy(Float32Array.from(matrix.flat()), [matrix.length, matrix[0].length]),
          });
          assert.equal(viaNpy.status, 200, `${what} .npy: ${await viaNpy.clone().text()}`);
          assert.deepEqual(await contentOf(viaNpy), await contentOf(viaJson), what);
          covered.push(`${method} ${path}`);
        }
      }
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
