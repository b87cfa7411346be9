/**
 * How failed loads back off and how they are reported: broken files versus transient store
 * trouble (a FormatError cause or an over-budget dictionary stays broken), not-found never
 * remembered, retry_after on 503s, and broken files turned into the server's 503.
 * @module
 */

import assert from "node:assert/strict";
import {
  BROKEN_BACKOFF,
  failureKind,
  OverBudgetError,
  TRANSIENT_BACKOFF,
  unreadable,
  withRetryAfter,
} from "./errors.ts";
import { FormatError, SaeError } from "../../domain/errors.ts";

Deno.test("loader errors: each failure's backoff kind", () => {
  const format = new FormatError("npy", "cut");
  const cases: [unknown, "broken" | "transient" | null][] = [
    [new Error("unexpected"), "broken"],
    ["a thrown string", "broken"],
    [new SaeError("not_found", "gone"), null],
    [new SaeError("unavailable", "store down"), "transient"],
    [new SaeError("unavailable", "cannot be read", { cause: format }), "broken"],
    [new OverBudgetError("unavailable", "larger than the budget"), "broken"],
    [format, "broken"],
    [new SaeError("integrity", "sha256 differs"), "broken"],
    [new SaeError("invalid", "bad shape"), "broken"],
  ];
  for (const [error, kind] of cases) assert.equal(failureKind(error), kind, String(error));
  assert.ok(BROKEN_BACKOFF.firstMs > TRANSIENT_BACKOFF.firstMs, "broken files wait longer");
  assert.ok(BROKEN_BACKOFF.maxMs > TRANSIENT_BACKOFF.maxMs);
});

Deno.test("loader errors: withRetryAfter adds whole seconds (at least 1) to 503s only", () => {
  const transient = (delayMs: number) => ({ delayMs, kind: "transient" as const });
  const down = new SaeError("unavailable", "store down", { info: { store: "s3" } });
  const later = withRetryAfter(down, transient(1500));
  assert.ok(later instanceof SaeError && later !== down);
  assert.equal(later.kind, "unavailable");
  assert.equal(later.message, "store down");
  assert.equal(later.cause, down);
  assert.deepEqual(later.info, { store: "s3", retry_after: 2 });
  assert.deepEqual((withRetryAfter(down, transient(0)) as SaeError).info?.retry_after, 1);
  assert.deepEqual((withRetryAfter(down, transient(3000)) as SaeError).info?.retry_after, 3);
  for (
    const same of [new SaeError("not_found", "x"), new SaeError("invalid", "y"), new Error("z")]
  ) {
    assert.equal(withRetryAfter(same, transient(5000)), same);
  }
});

Deno.test("loader errors: a failure remembered as broken says retryable false, whatever its error", () => {
  const broken = (delayMs: number) => ({ delayMs, kind: "broken" as const });
  const integrity = new SaeError("integrity", "sha256 differs");
  assert.deepEqual((withRetryAfter(integrity, broken(10)) as SaeError).info, {
    retry_after: 1,
    retryable: false,
  });
  const unread = unreadable("dictionary gpt2", new FormatError("cfg.json", "not valid JSON"));
  assert.deepEqual((withRetryAfter(unread, broken(1000)) as SaeError).info, {
    retry_after: 1,
    retryable: false,
  });
  // The kind decides, not the error's type: describe() remembers a plain 503 as broken.
  const plain = new SaeError("unavailable", "dictionary x cannot be read: header too long");
  assert.equal((withRetryAfter(plain, broken(1)) as SaeError).info?.retryable, false);
  assert.equal(
    (withRetryAfter(new OverBudgetError("unavailable", "too big"), broken(1)) as SaeError)
      .info?.retryable,
    false,
  );
});

Deno.test("loader errors: a broken file is the server's 503, other errors pass through", () => {
  const format = new FormatError("safetensors", "header too long");
  const e = unreadable("dictionary gpt2", format);
  assert.ok(e instanceof SaeError && !(e instanceof FormatError));
  assert.equal(e.kind, "unavailable");
  assert.equal(e.message, "dictionary gpt2 cannot be read: safetensors: header too long");
  assert.equal(e.cause, format);
  assert.equal(failureKind(e), "broken", "and it still backs off as broken");
  const other = new SaeError("not_found", "gone");
  assert.equal(unreadable("x", other), other);
});
