/**
 * The load test's options: loopback hosts only, the caps, and the defaults filled in.
 * @module
 */

import assert from "node:assert/strict";
import { UsageError } from "../args.ts";
import { isLoopback, LIMITS, LoadtestUsageError, resolveOptions } from "./options.ts";

Deno.test("isLoopback: accepts 127/8, ::1 and localhost; refuses everything else", () => {
  for (
    const ok of [
      "http://127.0.0.1:8080",
      "http://127.9.8.7/",
      "http://[::1]:8080",
      "http://localhost",
    ]
  ) {
    assert.ok(isLoopback(ok), ok);
  }
  for (
    const bad of [
      "http://10.0.0.1",
      "http://example.com",
      "http://128.0.0.1",
      "nonsense",
      "http://[::2]",
    ]
  ) {
    assert.ok(!isLoopback(bad), bad);
  }
});

Deno.test("resolveOptions: defaults filled in, bad values refused as usage errors", () => {
  const r = resolveOptions({ url: "http://127.0.0.1:8080", dictionary: "d", apiKey: "k" });
  assert.equal(r.url.origin, "http://127.0.0.1:8080");
  assert.deepEqual([r.rows, r.concurrency, r.duration, r.out, r.seed], [1, 32, 30, ".", 0]);
  assert.deepEqual(r.backends, ["webgpu", "wasm"]);
  assert.deepEqual(r.mix, ["encode", "steer", "clamp"]);
  assert.deepEqual(r.headers, { authorization: "Bearer k" });
  const bad = (o: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(
      () => resolveOptions({ url: "http://localhost", dictionary: "d", ...o }),
      (e) => e instanceof LoadtestUsageError && e instanceof UsageError && pattern.test(e.message),
    );
  bad({ url: "http://example.com" }, /only loopback/);
  bad({ url: "ftp://127.0.0.1" }, /http:\/\/ or https:\/\//);
  bad({ url: "nonsense" }, /is not a URL/);
  bad({ dictionary: "" }, /--dictionary is required/);
  bad({ rows: LIMITS.rows + 1 }, /--rows must be an integer in 1\.\.4096/);
  bad({ concurrency: 0 }, /--concurrency/);
  bad({ duration: 0 }, /--duration/);
  bad({ mix: ["encode", "delete"] }, /--mix/);
  bad({ backends: ["web gpu"] }, /--backends/);
  bad({ backends: ["gpu"] }, /--backends must be a comma list of webgpu, wasm, reference; got gpu/);
});
