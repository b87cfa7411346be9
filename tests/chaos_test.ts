/**
 * The chaos run (bench/chaos.ts) at test size: live and research clients against the service
 * process, random disconnects, deadlines hit, job workers replaced, SIGTERM at the end.
 * @module
 */

import assert from "node:assert/strict";
import { runChaos } from "../bench/chaos.ts";

Deno.test("chaos: no hang, no 5xx but deliberate 503s, memory back, prompt drain", async () => {
  // 5 s of traffic after a 5 s warm-up (about 19 s in all with start, settling and shutdown): it
  // still answers ~2000 requests with a few deadline 503s and disconnects; the warm-up and the
  // 2 s settling pauses are what the memory check needs, so they stay.
  const s = await runChaos({ seconds: 5, warmupSeconds: 5, seed: 3, deadlineMs: 2000 });
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
  // Memory: a gross leak check only. After a 5 s warm-up V8 and the workers are still growing
  // to their working size (+20-30 % here); the README gives the long runs' figures, and the
  // leak this would have caught (terminated job workers) grew RSS 3 x.
  assert.ok(s.rss_end_mb <= s.rss_start_mb * 1.5, `RSS ${summary}`);
  assert.equal(s.exit_code, 0, summary);
  assert.ok(s.shutdown_ms < 3000 + 2000, summary);
  // Liveness stays answerable: a generous bound for a shared 2-core machine.
  assert.ok(s.healthz.max_ms < 1500, summary);
});
