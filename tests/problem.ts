/**
 * Assertions on the service's problem+json answers (RFC 9457).
 * @module
 */

import assert from "node:assert/strict";
import type { Problem } from "../routes/problem.ts";

export type { Problem };

/**
 * Assert that `res` is a problem+json answer with `expect.status` whose document carries the
 * status, a type, a title and a detail (matching `expect.detail` if given); returns it.
 */
export async function expectProblem(
  res: Response,
  expect: { status: number; detail?: RegExp },
): Promise<Problem> {
  const text = await res.text();
  assert.equal(res.status, expect.status, text.slice(0, 300));
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = JSON.parse(text);
  assert.equal(body.status, expect.status);
  assert.equal(typeof body.type, "string");
  assert.equal(typeof body.title, "string");
  assert.equal(typeof body.detail, "string");
  if (expect.detail) assert.match(body.detail, expect.detail);
  return body;
}
