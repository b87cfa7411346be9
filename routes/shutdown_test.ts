/**
 * While the service drains (SIGTERM), what the shutdown itself breaks is a 503 with Retry-After
 * that says so: a request body cut short by the closing connection, a backend already closed.
 * Other errors keep their status.
 * @module
 */

import assert from "node:assert/strict";
import { SaeError } from "../domain/errors.ts";
import { referenceBackend } from "../backends/reference/mod.ts";
import type { Backend } from "../backends/backend.ts";
import { testApp } from "../tests/helpers.ts";

const URL_ENCODE = "/v1/dictionaries/saelens_standard/encode";

/** A body that breaks after a few bytes, as an upload cut off by a closing connection does. */
function broken(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(ctl) {
      ctl.enqueue(new TextEncoder().encode('{"activations": [[1'));
      ctl.error(new Error("connection closed"));
    },
  });
}

const json = { "content-type": "application/json" };

Deno.test("shutdown: a body cut short is a 400 normally, a 503 with Retry-After while draining", async () => {
  for (const draining of [false, true]) {
    const { app, registry } = testApp({ draining: () => draining });
    try {
      const res = await app.request(URL_ENCODE, { method: "POST", headers: json, body: broken() });
      const problem = await res.json();
      if (!draining) {
        assert.equal(res.status, 400);
        assert.match(problem.detail, /could not be read to its end/);
      } else {
        assert.equal(res.status, 503);
        assert.equal(res.headers.get("retry-after"), "1");
        assert.match(problem.detail, /the service is shutting down; send the request again/);
      }
    } finally {
      registry.close();
    }
  }
});

Deno.test("shutdown: a closed backend reads as the shutdown while draining; a 422 stays a 422", async () => {
  const reference = referenceBackend();
  const closed: Backend = {
    ...reference,
    encode: () => Promise.reject(new SaeError("unavailable", "the wasm backend is closed")),
  };
  const { app, registry } = testApp({ backend: closed, draining: () => true });
  try {
    const row = Array.from({ length: 12 }, (_, i) => i / 12);
    const res = await app.request(URL_ENCODE, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ activations: [row] }),
    });
    assert.equal(res.status, 503);
    assert.match((await res.json()).detail, /shutting down/);
    const bad = await app.request(URL_ENCODE, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ activations: [[1, 2]] }),
    });
    assert.equal(bad.status, 422);
    await bad.body?.cancel();
  } finally {
    registry.close();
  }
});
