import assert from "node:assert/strict";
import { selectBackend } from "../backends/select.ts";
import { readConfig } from "../service/config.ts";
import { startService } from "./service_process.ts";

const hasAdapter = !!(await navigator.gpu?.requestAdapter().catch(() => null));

Deno.test("selectBackend: wasm and reference are used directly; no chooser without the override", async () => {
  for (const choice of ["wasm", "reference"]) {
    const { backend, chooseBackend } = await selectBackend(
      readConfig({ SAESERVE_BACKEND: choice }),
    );
    assert.equal(backend.name, choice);
    assert.equal(chooseBackend, undefined);
    backend.close?.();
  }
});

Deno.test({
  name: "selectBackend: webgpu in a failover set; the override offers every backend",
  ignore: !hasAdapter,
  async fn() {
    const gpu = await selectBackend(readConfig({ SAESERVE_BACKEND: "webgpu" }));
    assert.equal(gpu.backend.name, "webgpu");
    assert.equal((gpu.backend as { degraded?: boolean }).degraded, false, "a failover set");
    await gpu.backend.close?.();

    const any = await selectBackend(
      readConfig({ SAESERVE_BACKEND: "wasm", SAESERVE_ALLOW_BACKEND_OVERRIDE: "1" }),
    );
    assert.equal(any.backend.name, "wasm");
    for (const name of ["wasm", "reference", "webgpu"]) {
      assert.equal(any.chooseBackend!(name).name, name);
    }
    await any.backend.close?.();
  },
});

Deno.test("main.ts: a bad environment value is one error line naming the variable and valid values (exit 1)", async () => {
  const emptyKeys = await Deno.makeTempFile({ prefix: "saeserve-keys-" });
  await Deno.writeTextFile(emptyKeys, "# the keys go here\n\n");
  const cases: [Record<string, string>, string][] = [
    [
      { SAESERVE_BACKEND: "wsam" },
      "error: SAESERVE_BACKEND must be auto, webgpu, wasm or reference, not wsam\n",
    ],
    [{ PORT: "abc" }, "error: PORT must be an integer from 0 to 65535, not abc\n"],
    [
      { SAESERVE_LOG: "loud" },
      "error: SAESERVE_LOG must be 1 or 0 (or on / off, true / false), not loud\n",
    ],
    [
      { SAESERVE_MEMORY_BUDGET: "lots" },
      "error: SAESERVE_MEMORY_BUDGET must be a byte size such as 4GiB, 512MB or 1000000, not lots\n",
    ],
    [
      { SAESERVE_MAX_BODY_MB: "0" },
      "error: SAESERVE_MAX_BODY_MB must be a positive number of MiB, not 0\n",
    ],
    [
      { SAESERVE_BATCH_MAX_ROWS: "many" },
      "error: SAESERVE_BATCH_MAX_ROWS must be an integer >= 1, not many\n",
    ],
    [{ SAESERVE_MAX_WORK: "-1" }, "error: SAESERVE_MAX_WORK must be a positive number, not -1\n"],
    [
      { SAESERVE_STORE: "ftp://host/x" },
      'error: SAESERVE_STORE ftp://host/x: unknown store scheme "ftp": use file://, s3://, https:// or hf://\n',
    ],
    [
      { SAESERVE_BACKEND: "reference", SAESERVE_API_KEYS_FILE: "/nonexistent/keys" },
      "error: SAESERVE_API_KEYS_FILE /nonexistent/keys cannot be read: No such file or directory (os error 2): readfile '/nonexistent/keys'\n",
    ],
    [
      { SAESERVE_BACKEND: "reference", SAESERVE_API_KEYS_FILE: emptyKeys },
      `error: SAESERVE_API_KEYS_FILE ${emptyKeys} holds no key (only blank lines and # comments); unset it to run without keys\n`,
    ],
    [
      { SAESERVE_API_KEYS: "   " },
      "error: SAESERVE_API_KEYS is set but names no key (only commas and spaces); unset it to run without keys\n",
    ],
  ];
  for (const [env, expected] of cases) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname],
      env: { NO_COLOR: "1", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assert.equal(stderr, expected);
    assert.ok(!stderr.includes("Uncaught") && !stderr.includes("    at "));
  }
  await Deno.remove(emptyKeys);
});

Deno.test("main.ts --help lists the variables and starts nothing; an argument is one error line", async () => {
  const run = (arg: string) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname, arg],
      env: { NO_COLOR: "1", PORT: "18798" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const help = await run("--help");
  const text = new TextDecoder().decode(help.stdout);
  assert.equal(help.code, 0);
  assert.match(text, /usage: PORT=8080 deno task start/);
  assert.match(text, /\n {2}SAESERVE_STORE\n/);
  const bad = await run("--port");
  assert.equal(bad.code, 1);
  assert.match(new TextDecoder().decode(bad.stderr), /^error: saeserve takes no arguments/);
});

Deno.test("main.ts: a HOST that does not resolve is one error line naming HOST and PORT (exit 1)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname],
    env: { NO_COLOR: "1", SAESERVE_BACKEND: "reference", HOST: "bogus.invalid", PORT: "18799" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 1, stderr);
  assert.match(stderr, /^error: cannot listen on HOST=bogus\.invalid PORT=18799: .+\n$/);
});

Deno.test("SIGTERM: readiness off, the in-flight request finishes, then the process exits 0", async () => {
  const svc = await startService({
    SAESERVE_BACKEND: "wasm",
    SAESERVE_STORE: `file://${new URL("../dictionaries", import.meta.url).pathname}`,
    SAESERVE_LOG: "off",
  });
  // A probe fit that keeps a research worker busy for a moment; SIGTERM once it runs.
  const rows = Array.from(
    { length: 500 },
    (_, r) => Array.from({ length: 64 }, (_, c) => Math.sin(r * c + r)),
  );
  const pending = fetch(`${svc.url}/v1/probes/train`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ activations: rows, labels: rows.map((_, i) => i % 2) }),
  });
  const counters = await (await fetch(`${svc.url}/metrics`)).text();
  assert.match(counters, /^saeserve_kernel_pool_replacements_total 0$/m);
  assert.match(counters, /^saeserve_backend_failovers_total 0$/m);
  const t = performance.now();
  while (performance.now() - t < 10_000) {
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    if (/^saeserve_jobs_research_running 1/m.test(metrics)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const stopped = svc.stop();
  const res = await pending;
  assert.equal(res.status, 200, await res.clone().text());
  assert.ok((await res.json()).methods.length >= 1);
  assert.equal((await stopped).code, 0);
});

/** Start main.ts with `env`, read its output until `done` matches it, then stop it. */
async function startupOutput(env: Record<string, string>, done: RegExp): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname],
    env: { NO_COLOR: "1", PORT: "0", HOST: "127.0.0.1", SAESERVE_BACKEND: "reference", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  };
  const reading = Promise.all([read(child.stdout), read(child.stderr)]);
  const deadline = Date.now() + 20_000;
  while (!done.test(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  child.kill("SIGTERM");
  await child.status;
  await reading;
  return text;
}

Deno.test("main.ts start-up report: backend, the store's dictionaries, warnings for a missing or empty store", async () => {
  const store = `file://${new URL("../dictionaries", import.meta.url).pathname}`;
  const found = await startupOutput(
    { SAESERVE_STORE: store, SAESERVE_TYPO: "1", SAESERVE_MEMORY_BUDGET: "1000TB" },
    /holds .*\n/,
  );
  assert.match(found, /warning: SAESERVE_TYPO is set but saeserve reads no such variable/);
  assert.match(
    found,
    /warning: SAESERVE_MEMORY_BUDGET \(\d+\.\d GiB\) is more than this machine's memory \(\d+\.\d GiB\)/,
  );
  assert.match(found, /saeserve: backend reference\n/);
  assert.match(
    found,
    /saeserve: store file:\/\/\S+ holds 3 dictionaries \(demo-jumprelu, demo-sparsify, demo-topk\) and 1 aligned dictionary \(demo-aligned\)\n/,
  );
  assert.doesNotMatch(found, /warning: the store/);

  const missing = await startupOutput(
    { SAESERVE_STORE: "file:///nonexistent/saeserve-store" },
    /warning: the store.*\n/,
  );
  assert.match(missing, /saeserve on http:\/\//, "it still starts");
  assert.match(
    missing,
    /warning: the store file:\/\/\/nonexistent\/saeserve-store cannot be listed \(.*is not a folder\); dictionary requests answer 503 until it can: check SAESERVE_STORE/,
  );

  const dir = await Deno.makeTempDir();
  try {
    const empty = await startupOutput(
      { SAESERVE_STORE: `file://${dir}` },
      /warning: the store.*\n/,
    );
    assert.match(empty, /warning: the store file:\/\/\S+ holds no dictionaries/);
    assert.ok(!empty.includes("Uncaught") && !empty.includes("    at "));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a client that hangs up mid-upload is logged and counted as a 400, never a 500", async () => {
  const svc = await startService({
    SAESERVE_BACKEND: "reference",
    SAESERVE_STORE: `file://${new URL("../dictionaries", import.meta.url).pathname}`,
    SAESERVE_LOG: "off",
  });
  try {
    const port = Number(new URL(svc.url).port);
    for (let i = 0; i < 3; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const head = "POST /v1/dictionaries/demo-topk/encode HTTP/1.1\r\nHost: x\r\n" +
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
      await conn.write(new TextEncoder().encode(head + '{"activations": [[1, 2'));
      await new Promise((r) => setTimeout(r, 50));
      conn.close();
    }
    let metrics = "";
    for (let t = 0; t < 50 && !/route="\/v1\/dictionaries\/:id\/encode"/.test(metrics); t++) {
      await new Promise((r) => setTimeout(r, 20));
      metrics = await (await fetch(`${svc.url}/metrics`)).text();
    }
    const encodes = metrics.split("\n").filter((l) =>
      l.startsWith("saeserve_http_requests_total") && l.includes("/encode")
    );
    assert.ok(encodes.some((l) => l.includes('status="400"')), encodes.join("\n"));
    assert.ok(!encodes.some((l) => l.includes('status="500"')), encodes.join("\n"));
  } finally {
    await svc.stop();
  }
});
