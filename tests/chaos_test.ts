/**
 * The chaos run (bench/chaos.ts) at test size: live and research clients against the service
 * process, random disconnects, deadlines hit, job workers replaced, SIGTERM at the end.
 * @module
 */

import assert from "node:assert/strict";
import { runChaos } from "../bench/chaos.ts";

Deno.test("chaos: no hang, no 5xx but deliberate 503s, memory back, prompt drain", async () => {
  // 4 s of traffic after a 3 s warm-up, 1 s settling pauses (about 14 s in all with start and
  // shutdown): it still answers 2000-3600 requests with a few deadline 503s and disconnects. The
  // 300 s run in bench/chaos.ts gives the README's memory figures.
  const s = await runChaos({
    seconds: 4,
    warmupSeconds: 3,
    settleMs: 1000,
    seed: 3,
    deadlineMs: 2000,
  });
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
  // Memory: a gross leak check only. After a 3 s warm-up V8 and the workers are still growing
  // to their working size (+20-30 % here); the README gives the long runs' figures, and the
  // leak this would have caught (terminated job workers) grew RSS 3 x.
  assert.ok(s.rss_end_mb <= s.rss_start_mb * 1.5, `RSS ${summary}`);
  assert.equal(s.exit_code, 0, summary);
  assert.ok(s.shutdown_ms < 3000 + 2000, summary);
  // Liveness stays answerable: a generous bound for a shared 2-core machine.
  assert.ok(s.healthz.max_ms < 1500, summary);
});
