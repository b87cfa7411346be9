/**
 * The chaos run (bench/chaos.ts) at test size: live and research clients against the service
 * process, random disconnects, deadlines hit, job workers replaced, SIGTERM at the end.
 * @module
 */

import assert from "node:assert/strict";
import { runChaos } from "../bench/chaos.ts";

Deno.test("chaos: no hang, no 5xx but deliberate 503s, memory back, prompt drain", async () => {
  const s = await runChaos({ seconds: 12, warmupSeconds: 6, seed: 3, deadlineMs: 2000 });
  const summary = JSON.stringify(s);
  assert.equal(s.hung, 0, summary);
  assert.deepEqual(s.server_errors, [], summary);
  assert.deepEqual(s.unexpected503, [], summary);
  const answered = Object.values(s.statuses).reduce((a, b) => a + b, 0);
  assert.ok(answered > 200, summary);
  assert.ok((s.statuses["503"] ?? 0) > 0, `no deadline was hit: ${summary}`);
  assert.ok(s.disconnected > 0, summary);
  // Answers only in the expected classes.
  for (const status of Object.keys(s.statuses)) {
    assert.ok(["200", "413", "422", "429", "503"].includes(status), summary);
  }
  // Memory: no growth over the run beyond what a still-warming V8 adds in a short run (the
  // 5-minute bench holds the 10 % bound; see the README).
  assert.ok(s.rss_end_mb <= s.rss_start_mb * 1.25, `RSS ${summary}`);
  assert.equal(s.exit_code, 0, summary);
  assert.ok(s.shutdown_ms < 3000 + 2000, summary);
  // Liveness stays answerable: a generous bound for a shared 2-core machine.
  assert.ok(s.healthz.max_ms < 1500, summary);
});
