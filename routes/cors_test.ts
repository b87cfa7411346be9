/**
 * Cross-origin calls ($SAESERVE_CORS_ORIGINS): none by default; with origins set, a browser
 * page on one of them gets its preflight answered (before any key is checked) and may read the
 * answers and the service's own headers; other origins get no grant.
 * @module
 */

import assert from "node:assert/strict";
import { apiKeyAuth } from "./auth.ts";
import { testApp } from "../tests/helpers.ts";
import { readConfig } from "../service/config.ts";

const APP = "https://app.example";
const ENCODE = "/v1/dictionaries/saelens_standard/encode";

function preflight(origin: string): RequestInit {
  return {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type, authorization",
    },
  };
}

Deno.test("cors: no grant unless origins are configured", async () => {
  const { app, registry } = testApp();
  try {
    const res = await app.request(ENCODE, preflight(APP));
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    await res.body?.cancel();
  } finally {
    registry.close();
  }
});

Deno.test("cors: a listed origin's preflight passes before the keys; answers expose saeserve's headers", async () => {
  const auth = await apiKeyAuth({ keys: ["sekrit"] });
  const { app, registry } = testApp({ corsOrigins: [APP], auth });
  try {
    const pre = await app.request(ENCODE, preflight(APP));
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), APP);
    assert.match(pre.headers.get("access-control-allow-headers") ?? "", /authorization/i);
    const res = await app.request(ENCODE, {
      method: "POST",
      headers: { origin: APP, "content-type": "application/json", authorization: "Bearer sekrit" },
      body: JSON.stringify({ activations: [Array.from({ length: 12 }, (_, i) => i / 12)] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get("access-control-allow-origin"), APP);
    assert.match(res.headers.get("access-control-expose-headers") ?? "", /X-Saeserve-Backend/);
    await res.body?.cancel();
    const other = await app.request(ENCODE, preflight("https://evil.example"));
    assert.notEqual(other.headers.get("access-control-allow-origin"), "https://evil.example");
    await other.body?.cancel();
  } finally {
    registry.close();
  }
});

Deno.test("cors: SAESERVE_CORS_ORIGINS takes * or origins, and says so otherwise", () => {
  assert.deepEqual(readConfig({ SAESERVE_CORS_ORIGINS: "*" }).corsOrigins, ["*"]);
  assert.deepEqual(
    readConfig({ SAESERVE_CORS_ORIGINS: "https://a.example, http://localhost:3000" }).corsOrigins,
    ["https://a.example", "http://localhost:3000"],
  );
  assert.deepEqual(readConfig({}).corsOrigins, []);
  assert.throws(() => readConfig({ SAESERVE_CORS_ORIGINS: "a.example" }), /must be \* or origins/);
  assert.throws(() => readConfig({ SAESERVE_CORS_ORIGINS: "*,https://a.example" }), /stands alone/);
});
