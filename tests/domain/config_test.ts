import assert from "node:assert/strict";
import { parseBytes, readConfig } from "../../domain/config.ts";

Deno.test("readConfig applies the documented defaults", () => {
  const c = readConfig({}, { totalMemory: 8 * 2 ** 30 });
  assert.equal(c.port, 8080);
  assert.equal(c.host, "0.0.0.0");
  assert.equal(c.store, "file://./dictionaries");
  assert.equal(c.backend, "auto");
  assert.equal(c.maxBodyBytes, 64 * 2 ** 20);
  assert.equal(c.memoryBudget, 4 * 2 ** 30);
  assert.equal(c.threads, undefined);
  assert.equal(c.weights, "f32");
});

Deno.test("readConfig reads every variable and rejects bad values", () => {
  const c = readConfig({
    PORT: "9000",
    HOST: "127.0.0.1",
    SAESERVE_STORE: "s3://b/p",
    SAESERVE_BACKEND: "reference",
    SAESERVE_MEMORY_BUDGET: "512MiB",
    SAESERVE_MAX_BODY_MB: "2",
    SAESERVE_THREADS: "3",
    SAESERVE_WEIGHTS: "bf16",
    SAESERVE_ALLOW_BACKEND_OVERRIDE: "1",
  });
  assert.deepEqual(c, {
    port: 9000,
    host: "127.0.0.1",
    store: "s3://b/p",
    backend: "reference",
    memoryBudget: 512 * 2 ** 20,
    maxBodyBytes: 2 * 2 ** 20,
    threads: 3,
    weights: "bf16",
    allowBackendOverride: true,
  });
  assert.throws(() => readConfig({ SAESERVE_BACKEND: "cuda" }));
  assert.throws(() => readConfig({ SAESERVE_THREADS: "0" }), /SAESERVE_THREADS/);
  assert.throws(() => readConfig({ SAESERVE_WEIGHTS: "int8" }), /SAESERVE_WEIGHTS/);
  assert.throws(() => readConfig({ PORT: "http" }));
});

Deno.test("parseBytes understands SI and binary suffixes", () => {
  assert.equal(parseBytes("1024"), 1024);
  assert.equal(parseBytes("2GiB"), 2 * 2 ** 30);
  assert.equal(parseBytes("1.5 GB"), 1.5e9);
  assert.throws(() => parseBytes("lots"));
});
