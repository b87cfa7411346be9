/**
 * Backend selection by name: the accepted names, the error naming them, one backend per
 * choice, and the service's selection with and without per-request overrides.
 * @module
 */

import assert from "node:assert/strict";
import {
  BACKEND_CHOICES,
  type BackendConfig,
  openBackend,
  parseBackendChoice,
  selectBackend,
} from "./select.ts";
import { SaeError } from "../domain/errors.ts";

Deno.test("select: every listed name parses to itself; others name the valid values", () => {
  assert.deepEqual(BACKEND_CHOICES, ["auto", "webgpu", "wasm", "reference"]);
  for (const name of BACKEND_CHOICES) assert.equal(parseBackendChoice(name), name);
  assert.throws(
    () => parseBackendChoice("cuda"),
    (e) =>
      e instanceof SaeError && e.kind === "invalid" &&
      e.message === 'backend must be one of auto, webgpu, wasm, reference, not "cuda"',
  );
  assert.throws(() => parseBackendChoice("WASM"), SaeError, "names are case-sensitive");
  assert.throws(
    () => parseBackendChoice("", { source: "--backend" }),
    /^SaeError: --backend must be one of .*, not ""$/,
  );
});

Deno.test("select: openBackend starts the named backend", async () => {
  const reference = await openBackend("reference");
  assert.equal(reference.name, "reference");
  const wasm = await openBackend("wasm", { threads: 1 });
  try {
    assert.equal(wasm.name, "wasm");
  } finally {
    wasm.close?.();
  }
});

const config = (extra: Partial<BackendConfig>): BackendConfig => ({
  backend: "reference",
  threads: 1,
  weights: "f32",
  allowBackendOverride: false,
  kernelWatchdogMs: 10_000,
  ...extra,
});

Deno.test("select: the service's reference backend alone, without a chooser", async () => {
  const { backend, chooseBackend } = await selectBackend(config({}));
  assert.equal(backend.name, "reference");
  assert.equal(chooseBackend, undefined);
});

Deno.test("select: with overrides allowed a request may name any started backend", async () => {
  const { backend, chooseBackend } = await selectBackend(config({ allowBackendOverride: true }));
  try {
    assert.equal(backend.name, "reference", "the configured backend stays the default");
    assert.ok(chooseBackend);
    assert.equal(chooseBackend("reference").name, "reference");
    assert.equal(chooseBackend("wasm").name, "wasm");
    assert.throws(
      () => chooseBackend("cuda"),
      (e) =>
        e instanceof SaeError && e.kind === "invalid" && /"cuda" is not available/.test(e.message),
    );
  } finally {
    backend.close?.();
  }
});
