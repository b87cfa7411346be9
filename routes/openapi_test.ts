/**
 * /openapi.json against the running app: every (method, path) the router holds (from Hono's
 * `app.routes`, not from the document) is documented with the error statuses it can answer,
 * and the statuses the app really answers for a wrong media type, an unknown dictionary or a
 * missing key are among the documented ones.
 * @module
 */

import assert from "node:assert/strict";
import { apiKeyAuth } from "./auth.ts";
import { openApiPath } from "./operation.ts";
import { testApp } from "../tests/helpers.ts";

type Doc = {
  paths: Record<string, Record<string, Op>>;
  components: { schemas: Record<string, unknown> };
};
type Op = {
  parameters?: { name: string; in: string; examples?: Record<string, { value: string }> }[];
  requestBody?: { content: Record<string, { examples?: Record<string, { value: unknown }> }> };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
};

/** The routes the app's router holds, as [method, OpenAPI path] (middleware left out). */
function routerOperations(app: ReturnType<typeof testApp>["app"]): [string, string][] {
  const seen = new Set<string>();
  const out: [string, string][] = [];
  for (const r of app.routes) {
    if (r.method === "ALL") continue;
    const key = `${r.method.toLowerCase()} ${openApiPath(r.path)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push([r.method.toLowerCase(), openApiPath(r.path)]);
  }
  return out;
}

/** The first example's path parameters and JSON body of an operation. */
function firstExample(op: Op): { params: Record<string, string>; body: unknown } {
  const bodies = op.requestBody?.content["application/json"]?.examples ?? {};
  const name = Object.keys(bodies)[0] ??
    Object.keys(op.parameters?.find((p) => p.examples)?.examples ?? {})[0];
  const params: Record<string, string> = {};
  for (const p of op.parameters ?? []) {
    if (p.in === "path" && name && p.examples?.[name]) params[p.name] = p.examples[name].value;
  }
  return { params, body: name ? bodies[name]?.value : undefined };
}

function fill(path: string, params: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name] ?? "x"));
}

Deno.test("every route of the router is in /openapi.json with the error statuses it can answer", async () => {
  const { app, registry } = testApp();
  try {
    const doc: Doc = await (await app.request("/openapi.json")).json();
    const routes = routerOperations(app);
    assert.ok(routes.length >= 26, `only ${routes.length} routes`);
    for (
      const path of [
        "/v1/aligned/{id}/encode",
        "/v1/aligned/{id}/translate",
        "/v1/aligned/{id}/concept-alignment",
        "/v1/circuits/discover",
        "/v1/dictionaries/{id}/heatmap",
        "/v1/dictionaries/{id}/features/semantic-probe",
      ]
    ) {
      assert.ok(routes.some(([, p]) => p === path), `router lacks ${path}`);
    }
    for (const [method, path] of routes) {
      const op = doc.paths[path]?.[method];
      assert.ok(op, `${method} ${path} is not in /openapi.json`);
      const statuses = Object.keys(op.responses).map(Number);
      const need = [
        ...(path.startsWith("/v1/") ? [401, 403, 429] : []),
        ...(op.requestBody ? [400, 413, 415, 422] : []),
        ...(path.includes("{id}") ? [404] : []),
        ...(method === "post" ? [503] : []),
      ];
      for (const status of need) {
        assert.ok(statuses.includes(status), `${method} ${path} does not document ${status}`);
      }
      assert.ok(statuses.some((s) => s >= 200 && s < 300), `${method} ${path}: no success`);
      for (const status of statuses.filter((s) => s >= 400)) {
        assert.deepEqual(
          op.responses[status].content?.["application/problem+json"]?.schema,
          { $ref: "#/components/schemas/Problem" },
          `${method} ${path} ${status} is not problem+json`,
        );
      }
    }
    // Nothing documented that the router does not answer.
    const documented = Object.entries(doc.paths).flatMap(([p, item]) =>
      Object.keys(item).map((m) => `${m} ${p}`)
    );
    assert.deepEqual(documented.sort(), routes.map(([m, p]) => `${m} ${p}`).sort());
    assert.ok(doc.components.schemas.Problem);
  } finally {
    registry.close();
  }
});

Deno.test("the encode answer documents maps; binary bodies and answers are listed", async () => {
  const { app, registry } = testApp();
  try {
    const doc: Doc = await (await app.request("/openapi.json")).json();
    const encode = doc.paths["/v1/dictionaries/{id}/encode"].post;
    const answer = encode.responses[200].content!;
    assert.ok((answer["application/json"].schema.properties as Record<string, unknown>).maps);
    assert.ok(answer["application/x-npz"]);
    assert.ok(encode.requestBody!.content["application/x-npy"]);
    assert.ok(doc.paths["/v1/circuits/discover"].post.requestBody!.content["application/x-npy"]);
    const heatmap = doc.paths["/v1/dictionaries/{id}/heatmap"].post.responses[200].content!;
    assert.ok(heatmap["image/png"]);
  } finally {
    registry.close();
  }
});

Deno.test("what the app answers for a wrong media type or an unknown dictionary is documented", async () => {
  const { app, registry } = testApp();
  try {
    const doc: Doc = await (await app.request("/openapi.json")).json();
    for (const [method, path] of routerOperations(app)) {
      const op = doc.paths[path][method];
      const documented = Object.keys(op.responses).map(Number);
      const example = firstExample(op);
      if (op.requestBody) {
        const res = await app.request(fill(path, example.params), {
          method: "POST",
          headers: { "content-type": "text/plain" },
          body: "{}",
        });
        await res.body?.cancel();
        assert.equal(res.status, 415, `${path} with text/plain`);
        assert.ok(documented.includes(res.status), `${path} answers undocumented ${res.status}`);
      }
      if (path.includes("{id}")) {
        const res = await app.request(fill(path, { id: "no-such-dictionary" }), {
          method: method.toUpperCase(),
          ...(op.requestBody
            ? {
              headers: { "content-type": "application/json" },
              body: JSON.stringify(example.body),
            }
            : {}),
        });
        await res.body?.cancel();
        assert.equal(res.status, 404, `${path} with an unknown id`);
        assert.ok(documented.includes(404));
      }
    }
  } finally {
    registry.close();
  }
});

Deno.test("every /v1 route answers 401 without a key when keys are configured, as documented", async () => {
  const { app, registry } = testApp({
    auth: await apiKeyAuth({ keys: ["k"], failuresPerMinute: 0 }),
  });
  try {
    const doc: Doc = await (await app.request("/openapi.json")).json();
    for (const [method, path] of routerOperations(app).filter(([, p]) => p.startsWith("/v1/"))) {
      const res = await app.request(fill(path, { id: "demo-topk" }), {
        method: method.toUpperCase(),
      });
      await res.body?.cancel();
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.ok(Object.keys(doc.paths[path][method].responses).includes("401"));
    }
  } finally {
    registry.close();
  }
});
