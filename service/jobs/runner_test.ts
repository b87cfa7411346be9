import assert from "node:assert/strict";
import { JobRunner } from "./mod.ts";
import { matrix } from "../../domain/sae/matrix.ts";
import { SaeError } from "../../domain/errors.ts";
import type { ProbeDocument } from "../../domain/probe/probes.ts";
import { seededRandom } from "../../domain/random.ts";
import { featureMap, topImageFeatures } from "../../domain/features/vision.ts";

const rand = seededRandom(9);
const CODES = {
  width: 8,
  indices: [Int32Array.of(1, 2), Int32Array.of(3), Int32Array.of(2, 5)],
  values: [Float32Array.of(2, 1), Float32Array.of(5), Float32Array.of(4, 3)],
};
const GRID = { h: 1, w: 2, skip: 1 };

/** A circuits job that polls its cancellation every step and runs for many seconds. */
function longCircuit() {
  const examples = 10, heads = 8, dModel = 16;
  return {
    x: {
      examples,
      heads,
      dModel,
      data: Float32Array.from({ length: examples * heads * dModel }, () => rand() - 0.5),
    },
    options: {
      labels: Array.from({ length: examples }, (_, e) => e % 2),
      epochs: 1e6,
      latents: 64,
    },
  };
}

/** A KNN prediction with no cancellation checks that runs for seconds. */
function longKnn() {
  const n = 6000, d = 64;
  const rows = Array.from({ length: n }, () => Array.from({ length: d }, () => rand()));
  const probe: ProbeDocument = {
    kind: "knn",
    k: 5,
    scaler: { mean: new Array(d).fill(0), scale: new Array(d).fill(1) },
    x: rows,
    y: rows.map((_, i) => i % 2),
  };
  return { probe, x: matrix([n, d], Float32Array.from(rows.flat())) };
}

Deno.test("jobs: a task's result equals the same function run here", async () => {
  const runner = new JobRunner();
  try {
    const maps = await runner.run("feature_maps", {
      codes: CODES,
      rows: 3,
      grid: GRID,
      images: 1,
      top: 2,
    }, { priority: "live" });
    const top = topImageFeatures(CODES, GRID, { image: 0, top: 2 });
    assert.deepEqual(maps[0].features.map((f) => f.feature), top);
    for (const f of maps[0].features) {
      assert.deepEqual(
        f.values,
        Array.from(featureMap(CODES, GRID, { image: 0, feature: f.feature })),
      );
    }
  } finally {
    runner.close();
  }
});

Deno.test("jobs: an aborted job answers at once; a cooperative job frees its worker without a replacement", async () => {
  const runner = new JobRunner();
  try {
    const abort = new AbortController();
    const job = runner.run("circuits_discover", longCircuit(), { signal: abort.signal });
    while (runner.stats("research").running === 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    const t = performance.now();
    abort.abort(new SaeError("unavailable", "gone"));
    await assert.rejects(job, /gone/);
    assert.ok(performance.now() - t < 50);
    // The worker stops at its next step and takes the next job.
    const next = await runner.run("feature_maps", {
      codes: CODES,
      rows: 3,
      grid: GRID,
      images: 1,
      top: 1,
    });
    assert.equal(next.length, 1);
    assert.equal(runner.stats("research").replaced, 0);
    assert.equal(runner.stats("research").workers, 1);
  } finally {
    runner.close();
  }
});

Deno.test("jobs: a job that ignores cancellation loses its slot to a new worker", async () => {
  const runner = new JobRunner({ cancelGraceMs: 500 });
  try {
    const abort = new AbortController();
    // Drawing and PNG-encoding a 6000 x 6000 heatmap: seconds with no cancellation checks.
    const job = runner.run("heatmap", {
      values: Float32Array.of(1, 2, 3, 4),
      grid: { h: 2, w: 2, skip: 0 },
      size: { width: 6000, height: 6000 },
    }, { signal: abort.signal });
    while (runner.stats("research").running === 0) await new Promise((r) => setTimeout(r, 10));
    abort.abort(new SaeError("unavailable", "deadline"));
    await assert.rejects(job, /deadline/);
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(runner.stats("research").replaced, 1);
    assert.equal(runner.stats("research").workers, 0);
    const maps = await runner.run("feature_maps", {
      codes: CODES,
      rows: 3,
      grid: GRID,
      images: 1,
      top: 1,
    });
    assert.equal(maps.length, 1);
  } finally {
    runner.close();
  }
});

Deno.test("jobs: live work does not wait behind research work", async () => {
  const runner = new JobRunner();
  try {
    const abort = new AbortController();
    const research = runner.run("circuits_discover", longCircuit(), { signal: abort.signal })
      .catch(() => null);
    while (runner.stats("research").running === 0) await new Promise((r) => setTimeout(r, 10));
    const t = performance.now();
    await runner.run("feature_maps", { codes: CODES, rows: 3, grid: GRID, images: 1, top: 1 }, {
      priority: "live",
    });
    assert.ok(performance.now() - t < 3000);
    assert.equal(runner.stats("research").running, 1);
    abort.abort(new SaeError("unavailable", "done"));
    await research;
  } finally {
    runner.close();
  }
});

Deno.test("jobs: errors keep their kind; a full queue answers 429; close fails what is left", async () => {
  const runner = new JobRunner({ maxQueued: 1 });
  try {
    await assert.rejects(
      runner.run("aligned_translate", {
        dict: { latents: 2, k: 1, streams: [] },
        x: matrix([1, 2]),
        from: "a",
        to: "b",
      }),
      (e) => e instanceof SaeError && e.kind === "invalid",
    );
    const abort = new AbortController();
    const running = runner.run("circuits_discover", longCircuit(), { signal: abort.signal })
      .catch((e) => e);
    const queued = runner.run("circuits_discover", longCircuit()).catch((e) => e);
    await assert.rejects(
      runner.run("circuits_discover", longCircuit()),
      (e) => e instanceof SaeError && e.kind === "over_capacity",
    );
    runner.close();
    assert.equal((await queued).kind, "unavailable");
    assert.equal((await running).kind, "unavailable");
  } finally {
    runner.close();
  }
});

Deno.test("jobs: an abandoned KNN prediction stops at its next check (the worker is kept)", async () => {
  const runner = new JobRunner({ cancelGraceMs: 3000 });
  try {
    const abort = new AbortController();
    const job = runner.run("probe_predict", longKnn(), { signal: abort.signal });
    while (runner.stats("research").running === 0) await new Promise((r) => setTimeout(r, 10));
    abort.abort(new SaeError("unavailable", "deadline"));
    await assert.rejects(job, /deadline/);
    const t = performance.now();
    while (runner.stats("research").abandoned > 0 && performance.now() - t < 3000) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(runner.stats("research").abandoned, 0);
    assert.equal(runner.stats("research").replaced, 0);
    assert.equal(runner.stats("research").workers, 1);
  } finally {
    runner.close();
  }
});
