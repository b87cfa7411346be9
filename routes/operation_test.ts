import assert from "node:assert/strict";
import { Hono } from "hono";
import type { AppEnv } from "./env.ts";
import { DICTIONARY_POST_ERRORS, openApiPath, pathParam, problems } from "./operation.ts";
import { ProblemSchema } from "./schemas.ts";

Deno.test("openApiPath writes Hono parameters in braces", () => {
  assert.equal(openApiPath("/v1/dictionaries/:id/encode"), "/v1/dictionaries/{id}/encode");
  assert.equal(openApiPath("/healthz"), "/healthz");
});

Deno.test("problems describes each status as problem+json; a dictionary POST lists all nine", () => {
  const p = problems(404, 503);
  assert.deepEqual(Object.keys(p), ["404", "503"]);
  assert.equal(p[404].content?.["application/problem+json"], ProblemSchema);
  assert.match(p[404].description, /no such dictionary/);
  assert.deepEqual(
    Object.keys(DICTIONARY_POST_ERRORS).map(Number).sort((a, b) => a - b),
    [400, 401, 403, 404, 413, 415, 422, 429, 503],
  );
});

Deno.test("pathParam reads a path parameter", async () => {
  const app = new Hono<AppEnv>();
  app.get("/x/:id", (c) => c.text(pathParam(c, "id")));
  assert.equal(await (await app.request("/x/a%2Fb")).text(), "a/b");
});
