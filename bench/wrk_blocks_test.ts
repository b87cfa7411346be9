import assert from "node:assert/strict";
import { wrkBlocks, wrkMedianMs } from "./wrk_blocks.ts";

const REPORT = `Running 1s test @ http://127.0.0.1:8080/v1/dictionaries/big/encode?top=64
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.92ms  451.20us   6.01ms   80.12%
    Req/Sec   520.10     30.02   560.00     70.00%
  Latency Distribution
     50%    1.81ms
     75%    2.03ms
     90%    2.49ms
     99%    3.80ms
  521 requests in 1.00s, 0.51MB read
Requests/sec:    520.80
Transfer/sec:    520.10KB
`;

Deno.test("wrkMedianMs reads the 50% line in any unit", () => {
  assert.equal(wrkMedianMs(REPORT), 1.81);
  assert.equal(wrkMedianMs(REPORT.replace("1.81ms", "812.00us")), 0.812);
  assert.equal(wrkMedianMs(REPORT.replace("1.81ms", "1.50s")), 1500);
});

Deno.test("wrkMedianMs refuses a report with errors or without a median", () => {
  const non2xx = REPORT.replace("Requests/sec", "  Non-2xx or 3xx responses: 521\nRequests/sec");
  assert.throws(() => wrkMedianMs(non2xx), /Non-2xx/);
  const socket = REPORT.replace("Requests/sec", "  Socket errors: connect 1, read 0\nRequests/sec");
  assert.throws(() => wrkMedianMs(socket), /Socket errors/);
  assert.throws(() => wrkMedianMs(REPORT.replace(/ {5}50%[^\n]*\n/, "")), /no median/);
});

const hasWrk = await new Deno.Command("wrk", { args: ["--version"], stdout: "null" }).output()
  .then(() => true, () => false);

Deno.test({
  name: "wrkBlocks times a real server and fails on its errors",
  ignore: !hasWrk,
  async fn() {
    let bodies = 0;
    let fail = false;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const body = new Uint8Array(await req.arrayBuffer());
      if (body.length === 3 && req.headers.get("content-type") === "application/x-npy") bodies++;
      return new Response("ok", { status: fail ? 500 : 200 });
    });
    const url = `http://127.0.0.1:${server.addr.port}/encode?top=2`;
    const wrk = await wrkBlocks({
      url,
      body: new Uint8Array([1, 2, 3]),
      headers: { "content-type": "application/x-npy" },
    });
    try {
      assert.ok(wrk);
      const ms = await wrk.block(1);
      assert.ok(ms > 0 && ms < 1000, `median ${ms} ms`);
      assert.ok(bodies > 10, `${bodies} requests carried the body`);
      fail = true;
      await assert.rejects(() => wrk.block(1), /Non-2xx/);
    } finally {
      await wrk?.close();
      await server.shutdown();
    }
  },
});
