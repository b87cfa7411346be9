import assert from "node:assert/strict";
import { referenceBackend } from "../backends/reference/mod.ts";
import { FIXTURE_DICTS } from "../tests/helpers.ts";
import { Registry } from "./registry.ts";
import { backendLine, serviceUrl, startupReport, storeLines } from "./startup_report.ts";
import { fileStore } from "./store/file.ts";

Deno.test("backendLine names the WebGPU adapter and says when it is a software one", () => {
  assert.equal(backendLine("wasm"), "saeserve: backend wasm");
  assert.equal(
    backendLine("webgpu", { adapter: "llvmpipe", software: true }),
    'saeserve: backend webgpu, adapter "llvmpipe" (isFallbackAdapter true, a software adapter: expect CPU speed)',
  );
  assert.equal(
    backendLine("webgpu", { adapter: "NVIDIA H100", software: false }),
    'saeserve: backend webgpu, adapter "NVIDIA H100" (isFallbackAdapter false)',
  );
});

Deno.test("storeLines: counts and a few ids; warnings for unreadable, empty and broken", () => {
  const many = Array.from(
    { length: 7 },
    (_, i) => ({ id: `d${i}`, format: "sparsify", loaded: false }),
  );
  const ok = storeLines("file:///s", { dictionaries: many as never, aligned: [] });
  assert.deepEqual(ok.info, [
    "saeserve: store file:///s holds 7 dictionaries (d0, d1, d2, d3, d4 and 2 more)",
  ]);
  assert.deepEqual(ok.warnings, []);
  const broken = storeLines("file:///s", {
    dictionaries: [],
    aligned: [{ id: "al", loaded: false, error: "saeserve.json: k must be an integer" }],
  });
  assert.deepEqual(broken.info, [
    "saeserve: store file:///s holds no dictionaries and 1 aligned dictionary (al)",
  ]);
  assert.match(broken.warnings[0], /1 dictionary in the store cannot be read: al \(saeserve/);
  // A folder name with a newline stays on its line, quoted.
  const odd = storeLines("file:///s", {
    dictionaries: [{ id: "bad\nname", format: "saelens", loaded: false, error: "no cfg" }] as never,
    aligned: [],
  });
  assert.equal(odd.info[0], 'saeserve: store file:///s holds 1 dictionary ("bad\\nname")');
  assert.ok(odd.warnings.every((w) => !w.includes("\n")), JSON.stringify(odd.warnings));
  assert.match(
    storeLines("s3://b/p", { dictionaries: [], aligned: [] }).warnings[0],
    /the store s3:\/\/b\/p holds no dictionaries/,
  );
  assert.match(
    storeLines("s3://b/p", new Error("connection refused")).warnings[0],
    /the store s3:\/\/b\/p cannot be listed \(connection refused\)/,
  );
});

Deno.test("startupReport lists the fixture store through the registry", async () => {
  const registry = new Registry(fileStore(FIXTURE_DICTS), {
    backend: referenceBackend(),
    memoryBudget: 1 << 30,
  });
  try {
    const report = await startupReport(registry, { backend: "reference" });
    assert.equal(report.info[0], "saeserve: backend reference");
    assert.match(
      report.info[1],
      /holds \d+ dictionaries \(.* more\) and 1 aligned dictionary \(aligned_tiny\)/,
    );
  } finally {
    registry.close();
  }
});

Deno.test("storeLines: an explanations file's warnings are start-up warnings naming the dictionary", () => {
  const report = storeLines("file:///s", {
    dictionaries: [{
      id: "gemma-16k",
      format: "saelens",
      loaded: false,
      explanations: {
        file: "explanations.jsonl",
        count: 3,
        features: 2,
        warnings: ["line 4: feature 99999 is outside 0..16383"],
      },
    }] as never,
    aligned: [],
  });
  assert.deepEqual(report.warnings, [
    "warning: gemma-16k: line 4: feature 99999 is outside 0..16383",
  ]);
});

Deno.test("serviceUrl puts an IPv6 host in brackets", () => {
  assert.equal(serviceUrl("0.0.0.0", { port: 8080 }), "http://0.0.0.0:8080");
  assert.equal(serviceUrl("::1", { port: 8080 }), "http://[::1]:8080");
  assert.equal(serviceUrl("::", { port: 80 }), "http://[::]:80");
});
