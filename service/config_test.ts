import assert from "node:assert/strict";
import { KNOWN_VARIABLES, parseBytes, readConfig, readLimits, unknownVariables } from "./config.ts";
import { DEFAULT_LIMITS, LIMIT_ENV } from "../domain/cost.ts";

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
    SAESERVE_SPIN_MS: "20",
    SAESERVE_WEIGHTS: "bf16",
    SAESERVE_ALLOW_BACKEND_OVERRIDE: "1",
  });
  const {
    requestTimeoutMs,
    apiKeys,
    apiKeysFile,
    rateLimitPerMinute,
    authFailuresPerMinute,
    protectMetrics,
    corsOrigins,
    shutdownGraceMs,
    jobWorkers,
    kernelWatchdogMs,
    liveTurns,
    batching,
    requestLogs,
    limits,
    ...core
  } = c;
  assert.equal(requestTimeoutMs, 30_000);
  assert.deepEqual(apiKeys, []);
  assert.equal(apiKeysFile, undefined);
  assert.equal(rateLimitPerMinute, 0);
  assert.equal(authFailuresPerMinute, 20);
  assert.equal(protectMetrics, false);
  assert.deepEqual(corsOrigins, []);
  assert.equal(shutdownGraceMs, 10_000);
  assert.deepEqual(jobWorkers, { live: 1, research: 1 });
  assert.equal(kernelWatchdogMs, 30_000);
  assert.equal(liveTurns, 4);
  assert.equal(readConfig({ SAESERVE_LIVE_TURNS: "0" }).liveTurns, 0);
  assert.throws(() => readConfig({ SAESERVE_LIVE_TURNS: "-1" }), /SAESERVE_LIVE_TURNS/);
  assert.throws(() => readConfig({ SAESERVE_LIVE_TURNS: "2.5" }), /SAESERVE_LIVE_TURNS/);
  assert.deepEqual(batching, { enabled: true, maxRows: 256, maxWaitMs: 0, maxQueuedRows: 8192 });
  assert.equal(requestLogs, true);
  assert.deepEqual(limits, DEFAULT_LIMITS);
  assert.deepEqual(core, {
    port: 9000,
    host: "127.0.0.1",
    store: "s3://b/p",
    backend: "reference",
    memoryBudget: 512 * 2 ** 20,
    maxBodyBytes: 2 * 2 ** 20,
    threads: 3,
    spinMs: 20,
    weights: "bf16",
    allowBackendOverride: true,
  });
  assert.throws(() => readConfig({ SAESERVE_BACKEND: "cuda" }));
  assert.throws(() => readConfig({ SAESERVE_THREADS: "0" }), /SAESERVE_THREADS/);
  assert.equal(readConfig({ SAESERVE_WEIGHTS: "int8" }).weights, "int8");
  assert.throws(() => readConfig({ SAESERVE_WEIGHTS: "int4" }), /SAESERVE_WEIGHTS/);
  assert.throws(() => readConfig({ PORT: "http" }));
});

Deno.test("parseBytes understands SI and binary suffixes", () => {
  assert.equal(parseBytes("1024"), 1024);
  assert.equal(parseBytes("2GiB"), 2 * 2 ** 30);
  assert.equal(parseBytes("1.5 GB"), 1.5e9);
  assert.throws(() => parseBytes("lots"));
});

Deno.test("readConfig reads the serving settings: keys, limits, deadline, batching, logs", () => {
  const c = readConfig({
    SAESERVE_API_KEYS: "k1, k2 ,",
    SAESERVE_RATE_LIMIT_PER_MINUTE: "60",
    SAESERVE_AUTH_FAILURES_PER_MINUTE: "5",
    SAESERVE_REQUEST_TIMEOUT_MS: "250",
    SAESERVE_BATCHING: "0",
    SAESERVE_BATCH_MAX_ROWS: "64",
    SAESERVE_LOG: "off",
    SAESERVE_PROTECT_METRICS: "1",
  });
  assert.deepEqual(c.apiKeys, ["k1", "k2"]);
  assert.equal(c.rateLimitPerMinute, 60);
  assert.equal(c.authFailuresPerMinute, 5);
  assert.throws(
    () => readConfig({ SAESERVE_AUTH_FAILURES_PER_MINUTE: "-1" }),
    /SAESERVE_AUTH_FAILURES_PER_MINUTE/,
  );
  assert.equal(c.requestTimeoutMs, 250);
  assert.equal(c.batching.enabled, false);
  assert.equal(c.batching.maxRows, 64);
  assert.equal(c.requestLogs, false);
  assert.equal(c.protectMetrics, true);
  assert.throws(() => readConfig({ SAESERVE_BATCH_MAX_ROWS: "0" }), /SAESERVE_BATCH_MAX_ROWS/);
  assert.throws(
    () => readConfig({ SAESERVE_REQUEST_TIMEOUT_MS: "soon" }),
    /SAESERVE_REQUEST_TIMEOUT_MS/,
  );
});

Deno.test("readLimits reads the cost budgets, keeps defaults for the rest, rejects bad values", () => {
  assert.deepEqual(readLimits({}), DEFAULT_LIMITS);
  assert.deepEqual(readLimits({ SAESERVE_MAX_WORK: "" }), DEFAULT_LIMITS);
  const limits = readLimits({
    SAESERVE_MAX_WORK: "2e9",
    SAESERVE_MAX_PROBE_WORK: "1e10",
    SAESERVE_MAX_CIRCUIT_WORK: "3000000",
    SAESERVE_MAX_IMAGE_PIXELS: "65536",
    SAESERVE_MAX_ANSWER_MB: "0.5",
  });
  assert.deepEqual(limits, {
    maxWork: 2e9,
    maxProbeWork: 1e10,
    maxCircuitWork: 3e6,
    maxImagePixels: 65536,
    maxAnswerBytes: 2 ** 19,
  });
  assert.equal(readConfig({ SAESERVE_MAX_WORK: "5e10" }).limits.maxWork, 5e10);
  for (const env of Object.values(LIMIT_ENV)) {
    for (const bad of ["0", "-1", "lots", "Infinity"]) {
      assert.throws(() => readLimits({ [env]: bad }), new RegExp(env));
    }
  }
  // The defaults refuse the measured cases of issue 14 and keep README-sized requests.
  assert.ok(DEFAULT_LIMITS.maxWork >= 256 * 2304 * 16384);
  assert.equal(DEFAULT_LIMITS.maxImagePixels, 4096 * 4096);
});

Deno.test("every bad value is refused in one message naming the variable and what it accepts", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: "70000" }, /^PORT must be an integer from 0 to 65535, not 70000$/],
    [{ PORT: "8.5" }, /^PORT must be an integer/],
    [{ SAESERVE_BACKEND: "wsam" }, /^SAESERVE_BACKEND must be auto, webgpu, wasm or reference/],
    [{ SAESERVE_MEMORY_BUDGET: "-5GiB" }, /^SAESERVE_MEMORY_BUDGET must be a byte size such as/],
    [{ SAESERVE_MEMORY_BUDGET: "0" }, /^SAESERVE_MEMORY_BUDGET must be a byte size/],
    [
      { SAESERVE_MAX_BODY_MB: "lots" },
      /^SAESERVE_MAX_BODY_MB must be a positive number of MiB, not lots$/,
    ],
    [{ SAESERVE_THREADS: "999" }, /^SAESERVE_THREADS must be an integer from 1 to 256/],
    [
      { SAESERVE_SPIN_MS: "-1" },
      /^SAESERVE_SPIN_MS must be a number of milliseconds from 0 to 1000, not -1$/,
    ],
    [{ SAESERVE_SPIN_MS: "fast" }, /^SAESERVE_SPIN_MS must be a number of milliseconds/],
    [{ SAESERVE_SPIN_MS: "5000" }, /^SAESERVE_SPIN_MS must be a number of milliseconds/],
    [{ SAESERVE_SPIN_MS: "0x14" }, /^SAESERVE_SPIN_MS must be a number of milliseconds/],
    [{ SAESERVE_WEIGHTS: "int4" }, /^SAESERVE_WEIGHTS must be f32, bf16, f16 or int8/],
    [
      { SAESERVE_ALLOW_BACKEND_OVERRIDE: "sure" },
      /^SAESERVE_ALLOW_BACKEND_OVERRIDE must be 1 or 0/,
    ],
    [{ SAESERVE_PROTECT_METRICS: "2" }, /^SAESERVE_PROTECT_METRICS must be 1 or 0/],
    [{ SAESERVE_BATCHING: "maybe" }, /^SAESERVE_BATCHING must be 1 or 0/],
    [
      { SAESERVE_LOG: "verbose" },
      /^SAESERVE_LOG must be 1 or 0 \(or on \/ off, true \/ false\), not verbose$/,
    ],
    [{ SAESERVE_LIVE_WORKERS: "0" }, /^SAESERVE_LIVE_WORKERS must be an integer >= 1, not 0$/],
    [
      { SAESERVE_SHUTDOWN_GRACE_MS: "1.5" },
      /^SAESERVE_SHUTDOWN_GRACE_MS must be an integer from 0 to 2147483647/,
    ],
    [
      { SAESERVE_MAX_ANSWER_MB: "none" },
      /^SAESERVE_MAX_ANSWER_MB must be a positive number, not none$/,
    ],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => readConfig(env), (e: Error) => {
      assert.match(e.message, message, JSON.stringify(env));
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
  // Empty values keep the defaults; flags take on / off and true / false too.
  const c = readConfig({
    PORT: "",
    SAESERVE_BACKEND: "",
    SAESERVE_LOG: "on",
    SAESERVE_BATCHING: "false",
  });
  assert.equal(c.port, 8080);
  assert.equal(c.backend, "auto");
  assert.equal(c.requestLogs, true);
  assert.equal(c.batching.enabled, false);
  assert.equal(c.spinMs, undefined);
  assert.equal(readConfig({ SAESERVE_SPIN_MS: "30" }).spinMs, 30);
  assert.equal(readConfig({ SAESERVE_SPIN_MS: "0.5" }).spinMs, 0.5);
});

Deno.test("unknownVariables names SAESERVE_* variables nothing reads", () => {
  assert.deepEqual(
    unknownVariables({
      SAESERVE_BACKED: "wasm",
      SAESERVE_STORE: "x",
      PATH: "/bin",
      SAESERVE_MAX_WORK: "1",
    }),
    ["SAESERVE_BACKED"],
  );
  assert.ok(KNOWN_VARIABLES.includes("SAESERVE_MAX_IMAGE_PIXELS"));
});

Deno.test("readConfig refuses timers JavaScript cannot hold, a long batch wait and keys that are only commas", () => {
  // 2^31 ms would fire at once: every request would meet its deadline in a millisecond.
  for (
    const name of [
      "SAESERVE_REQUEST_TIMEOUT_MS",
      "SAESERVE_SHUTDOWN_GRACE_MS",
      "SAESERVE_KERNEL_WATCHDOG_MS",
    ]
  ) {
    assert.throws(
      () => readConfig({ [name]: "2147483648" }),
      new RegExp(`${name} must be an integer from \\d to 2147483647, not 2147483648`),
    );
    assert.throws(() => readConfig({ [name]: "1e12" }), new RegExp(name));
  }
  assert.equal(
    readConfig({ SAESERVE_REQUEST_TIMEOUT_MS: "2147483647" }).requestTimeoutMs,
    2 ** 31 - 1,
  );
  assert.throws(
    () => readConfig({ SAESERVE_BATCH_WAIT_MS: "100000" }),
    /SAESERVE_BATCH_WAIT_MS must be an integer from 0 to 1000/,
  );
  assert.throws(() => readConfig({ SAESERVE_API_KEYS: " , ,," }), /names no key/);
  assert.deepEqual(readConfig({ SAESERVE_API_KEYS: "" }).apiKeys, []);
});
