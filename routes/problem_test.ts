import assert from "node:assert/strict";
import { Hono } from "hono";
import { SaeError } from "../domain/errors.ts";
import { errorResponse, problem, problemResponse, STATUS_OF, truncateDetail } from "./problem.ts";

Deno.test("problem: type, title, status, detail; long details and extras are cut", () => {
  const p = problem({ status: 422, detail: "bad", extra: { limit: "SAESERVE_X", estimate: 5 } });
  assert.deepEqual(p, {
    type: "https://saeserve.dev/problems/unprocessable-content",
    title: "Unprocessable content",
    status: 422,
    detail: "bad",
    limit: "SAESERVE_X",
    estimate: 5,
  });
  assert.ok(problem({ status: 400, detail: "x".repeat(10_000) }).detail.length < 400);
  assert.equal(truncateDetail("abc", { maxChars: 2 }), "ab\u2026 (3 characters)");
});

Deno.test("problemResponse sets problem+json and Retry-After; errorResponse maps kinds", async () => {
  const app = new Hono();
  app.get(
    "/429",
    (c) => problemResponse(c, { status: 429, detail: "busy", extra: { retry_after: 7 } }),
  );
  app.get(
    "/kind/:kind",
    (c) => errorResponse(c, new SaeError(c.req.param("kind") as "invalid", "no")),
  );
  app.get("/bug", (c) => errorResponse(c, new Error("secret internals")));
  const busy = await app.request("/429");
  assert.equal(busy.status, 429);
  assert.equal(busy.headers.get("content-type"), "application/problem+json");
  assert.equal(busy.headers.get("retry-after"), "7");
  for (const [kind, status] of Object.entries(STATUS_OF)) {
    const res = await app.request(`/kind/${kind}`);
    assert.equal(res.status, status, kind);
    assert.equal((await res.json()).status, status);
  }
  const originalError = console.error;
  console.error = () => {};
  try {
    const bug = await app.request("/bug");
    assert.equal(bug.status, 500);
    assert.doesNotMatch(await bug.text(), /secret/);
  } finally {
    console.error = originalError;
  }
});
