import assert from "node:assert/strict";
import { startDemoService } from "../../tests/busy_service.ts";
import { ablate, clamp, Client, type Matrix, SaeServeError } from "./mod.ts";

const ID = "demo-topk";
const CALLERS = 4;

interface Seen {
  status: number;
  retryAfter: string | null;
}

/** A fetch that records each answer's status and Retry-After in `seen`. */
function recordingFetch(seen: Seen[]): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    seen.push({
      status: res.status,
      retryAfter: res.headers.get("retry-after"),
    });
    return res;
  };
}

/** Row `r` of `m` as a one-row matrix. */
function row(m: Matrix, r: number): Matrix {
  return {
    data: m.data.slice(r * m.cols, (r + 1) * m.cols),
    rows: 1,
    cols: m.cols,
  };
}

Deno.test("TypeScript client retries a real 429 from a one-row queue", async (t) => {
  const service = await startDemoService({ busy: true });
  const x: Matrix = {
    data: Float32Array.from(
      { length: CALLERS * 64 },
      (_, i) => Math.cos(i * 0.29) * 2,
    ),
    rows: CALLERS,
    cols: 64,
  };
  const ivs = [clamp(3, 5), ablate(11)];
  try {
    // One request of every row: never over capacity; rows are batched bit-exactly.
    const expected = await new Client({ baseUrl: service.url }).steer(
      ID,
      x,
      ivs,
    );

    await t.step(
      "without retries the 429 is raised; it has Retry-After",
      async () => {
        const seen: Seen[] = [];
        const once = new Client({
          baseUrl: service.url,
          maxRetries: 0,
          fetch: recordingFetch(seen),
        });
        const settled = await Promise.allSettled(
          [0, 1].map((r) => once.steer(ID, row(x, r), ivs)),
        );
        const failed = settled.filter((s) => s.status === "rejected");
        assert.equal(failed.length, 1);
        const err = (failed[0] as PromiseRejectedResult).reason;
        assert.ok(
          err instanceof SaeServeError && err.status === 429,
          String(err),
        );
        assert.match(err.detail, /queue/);
        assert.deepEqual(seen.filter((s) => s.status === 429), [{
          status: 429,
          retryAfter: "1",
        }]);
      },
    );

    await t.step(
      "concurrent steers are retried until each succeeds",
      async () => {
        const seen: Seen[] = [];
        const client = new Client({
          baseUrl: service.url,
          maxRetries: CALLERS + 4,
          fetch: recordingFetch(seen),
        });
        const began = performance.now();
        const out = await Promise.all(
          Array.from(
            { length: CALLERS },
            (_, r) => client.steer(ID, row(x, r), ivs),
          ),
        );
        const took = performance.now() - began;
        out.forEach((m, r) => assert.deepEqual(m, row(expected, r)));
        const turnedAway = seen.filter((s) => s.status === 429);
        assert.ok(
          turnedAway.length >= CALLERS - 1,
          `only ${turnedAway.length} answers were 429`,
        );
        assert.ok(turnedAway.every((s) => s.retryAfter === "1"));
        assert.equal(seen.filter((s) => s.status === 200).length, CALLERS);
        assert.ok(
          took >= 950,
          `Retry-After: 1 not honoured (${took.toFixed(0)} ms)`,
        );
      },
    );
  } finally {
    await service.stop();
  }
});
