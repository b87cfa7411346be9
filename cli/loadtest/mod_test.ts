/**
 * `deno task loadtest` as a user runs it: options parsed from the command line, a non-loopback
 * URL refused with exit code 2.
 * @module
 */

import assert from "node:assert/strict";
import { failedPhases, parseCli, type PhaseReport } from "./mod.ts";

const LOADTEST = new URL("./mod.ts", import.meta.url).pathname;

Deno.test("parseCli: defaults, lists, numbers and the API key from the environment", () => {
  const o = parseCli(["--url", "http://127.0.0.1:8080", "--dictionary", "d", "--rows", "4"], {
    SAESERVE_API_KEY: "secret",
  });
  assert.equal(o.rows, 4);
  assert.equal(o.concurrency, 32);
  assert.deepEqual(o.backends, ["webgpu", "wasm"]);
  assert.deepEqual(o.mix, ["encode", "steer"]);
  assert.equal(o.apiKey, "secret");
  assert.deepEqual(
    parseCli(["--url=u", "--dictionary=d", "--mix", "clamp, encode", "--backends", "wasm"]).mix,
    ["clamp", "encode"],
  );
  assert.equal(parseCli(["--url=u", "--dictionary=d"]).apiKey, undefined);
  assert.throws(() => parseCli(["--url=u", "--dictionary=d", "--mix", "delete"]), /--mix/);
  assert.throws(() => parseCli(["--url=u", "--dictionary=d", "--rows", "two"]), /--rows/);
});

Deno.test("the CLI refuses a non-loopback URL with exit code 2", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", LOADTEST, "--url", "http://example.com", "--dictionary", "x"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /loopback/);
});

Deno.test("failedPhases: a phase with more than 10 % failures, or on another backend, is named", () => {
  const phase = (over: Partial<PhaseReport>): PhaseReport => ({
    backend: "wasm",
    adapter: {} as PhaseReport["adapter"],
    reportedBackends: { wasm: 100 },
    backendMismatch: false,
    requests: 100,
    ok: 100,
    errors: {},
    byKind: {},
    elapsedS: 1,
    reqPerS: 100,
    rowsPerS: 100,
    latencyMs: {} as PhaseReport["latencyMs"],
    histogram: [],
    ...over,
  });
  const report = (phases: PhaseReport[]) => ({ phases }) as Parameters<typeof failedPhases>[0];
  assert.deepEqual(failedPhases(report([phase({}), phase({ ok: 95 })])), []);
  assert.deepEqual(failedPhases(report([phase({ ok: 18, errors: { network: 82 } })])), [
    "wasm: 82 of 100 requests failed",
  ]);
  assert.deepEqual(
    failedPhases(report([phase({ backend: "webgpu", backendMismatch: true })])),
    ["webgpu: the service answered on wasm"],
  );
});
