import assert from "node:assert/strict";
import { healthUrl, probeHealth } from "./container.ts";

Deno.test("container --healthcheck: /healthz on $PORT, true only for a 200", async () => {
  assert.equal(healthUrl({}), "http://127.0.0.1:8080/healthz");
  assert.equal(healthUrl({ PORT: "9001" }), "http://127.0.0.1:9001/healthz");
  let status = 200;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      new Response(null, { status: new URL(req.url).pathname === "/healthz" ? status : 404 }),
  );
  try {
    const url = healthUrl({ PORT: String(server.addr.port) });
    assert.equal(await probeHealth(url), true);
    status = 503;
    assert.equal(await probeHealth(url), false);
  } finally {
    await server.shutdown();
  }
  // Nothing listening any more: false within the timeout, no throw.
  assert.equal(
    await probeHealth(healthUrl({ PORT: String(server.addr.port) }), { timeoutMs: 500 }),
    false,
  );
});
