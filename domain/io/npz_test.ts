import assert from "node:assert/strict";
import { bytesSource } from "./byte_source.ts";
import { SaeError } from "../errors.ts";
import { encodeNpz, loadNpzArray, readNpzDirectory } from "./npz.ts";

const DIR = new URL("../../tests/fixtures/formats/", import.meta.url);
const expected = JSON.parse(Deno.readTextFileSync(new URL("expected.json", DIR)));

for (const name of ["stored.npz", "deflated.npz"]) {
  Deno.test(`npz: ${name} written by numpy loads every array with numpy's values`, async () => {
    const source = bytesSource(Deno.readFileSync(new URL(name, DIR)));
    const members = await readNpzDirectory(source);
    assert.deepEqual([...members.keys()].sort(), Object.keys(expected[name]).sort());
    for (
      const [key, want] of Object.entries(expected[name]) as [
        string,
        { shape: number[]; values: number[] },
      ][]
    ) {
      const t = await loadNpzArray(source, members.get(key)!);
      assert.deepEqual([...t.shape], want.shape);
      assert.deepEqual([...t.data], want.values);
    }
  });
}

Deno.test("npz: encodeNpz round-trips f32 and i32 arrays, stored, compressed and ZIP64", async () => {
  const arrays = {
    values: { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
    other: { shape: [3], data: Float32Array.from([0.5, -0.5, 8]) },
  };
  for (
    const options of [{}, { compress: true }, { zip64: true }, { compress: true, zip64: true }]
  ) {
    const source = bytesSource(await encodeNpz(arrays, options));
    const members = await readNpzDirectory(source);
    for (const [key, a] of Object.entries(arrays)) {
      const t = await loadNpzArray(source, members.get(key)!);
      assert.deepEqual([...t.shape], a.shape, JSON.stringify(options));
      assert.deepEqual(t.data, a.data);
    }
  }
});

Deno.test("npz: a member inflating past its declared size fails as malformed (bomb guard)", async () => {
  const source = bytesSource(Deno.readFileSync(new URL("bomb.npz", DIR)));
  const members = await readNpzDirectory(source);
  await assert.rejects(
    loadNpzArray(source, members.get("big")!),
    (e: unknown) => e instanceof SaeError && e.kind === "malformed",
  );
});
