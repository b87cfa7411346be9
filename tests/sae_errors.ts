/**
 * Assertion helpers for SaeError outcomes.
 * @module
 */

import assert from "node:assert/strict";
import { SaeError } from "../domain/errors.ts";

/** A predicate for `assert.rejects`: a SaeError of this kind. */
export function isKind(kind: string): (e: unknown) => boolean {
  return (e) => e instanceof SaeError && e.kind === kind;
}

/** The SaeError a promise rejects with (fails the test on anything else, or on success). */
export async function rejection(promise: Promise<unknown>): Promise<SaeError> {
  const error = await promise.then(() => null, (e) => e);
  assert.ok(error instanceof SaeError, `expected a SaeError, got ${error}`);
  return error;
}

/** The SaeError kind `work` throws ("none" when it throws nothing; other errors propagate). */
export function kindOf(work: () => unknown): string {
  try {
    work();
  } catch (e) {
    if (e instanceof SaeError) return e.kind;
    throw e;
  }
  return "none";
}
