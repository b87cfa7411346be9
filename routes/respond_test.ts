import assert from "node:assert/strict";
import { type Context, Hono } from "hono";
import { decodeNpy } from "../domain/io/npy.ts";
import { matrix } from "../domain/sae/matrix.ts";
import { JobRunner } from "../service/jobs/mod.ts";
import {
  activationsResponse,
  expectFiniteResult,
  matrixRows,
  paddedCodes,
  wantsNpy,
  wantsNpz,
} from "./respond.ts";

function onGet(accept: string | undefined, work: (c: Context) => Response | Promise<Response>) {
  const app = new Hono();
  app.get("/", work);
  return app.request("/", { headers: accept ? { accept } : {} });
}

Deno.test("wantsNpy follows Accept, else the request's form; wantsNpz only on Accept", async () => {
  const answer = async (accept: string | undefined, form: "json" | "npy") =>
    await (await onGet(accept, (c) => c.json([wantsNpy(c, form), wantsNpz(c)]))).json();
  assert.deepEqual(await answer(undefined, "npy"), [true, false]);
  assert.deepEqual(await answer(undefined, "json"), [false, false]);
  assert.deepEqual(await answer("application/json", "npy"), [false, false]);
  assert.deepEqual(await answer("application/x-npy", "json"), [true, false]);
  assert.deepEqual(await answer("application/x-npz", "json"), [false, true]);
});

Deno.test("activationsResponse answers JSON rows or .npy, with the backend header", async () => {
  const jobs = new JobRunner();
  try {
    const m = matrix([2, 2], Float32Array.from([1, 2, 3, 4]));
    const json = await onGet(
      undefined,
      (c) => activationsResponse(c, m, { form: "json", backend: "reference", jobs }),
    );
    assert.equal(json.headers.get("x-saeserve-backend"), "reference");
    assert.deepEqual(await json.json(), { activations: [[1, 2], [3, 4]] });
    const npy = await onGet(
      undefined,
      (c) => activationsResponse(c, m, { form: "npy", backend: "wasm", jobs }),
    );
    assert.equal(npy.headers.get("content-type"), "application/x-npy");
    const t = decodeNpy(new Uint8Array(await npy.arrayBuffer()));
    assert.deepEqual([t.shape, Array.from(t.data)], [[2, 2], [1, 2, 3, 4]]);
  } finally {
    jobs.close();
  }
});

Deno.test("paddedCodes pads with -1 / 0; matrixRows views rows; non-finite results are 422", () => {
  const padded = paddedCodes({
    width: 8,
    indices: [Int32Array.from([5, 2]), Int32Array.from([7])],
    values: [Float32Array.from([3, 1]), Float32Array.from([2])],
  });
  assert.equal(padded.width, 2);
  assert.deepEqual(Array.from(padded.indices), [5, 2, 7, -1]);
  assert.deepEqual(Array.from(padded.values), [3, 1, 2, 0]);
  const rows = matrixRows(matrix([2, 3], Float32Array.from([1, 2, 3, 4, 5, 6])));
  assert.deepEqual(rows.map((r) => Array.from(r)), [[1, 2, 3], [4, 5, 6]]);
  expectFiniteResult([1, 2], "x");
  assert.throws(() => expectFiniteResult([1, Infinity], "the result"), /overflows f32/);
});
