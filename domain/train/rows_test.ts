import assert from "node:assert/strict";
import { encodeNpy } from "../io/npy.ts";
import { encodeSafetensors } from "../io/safetensors.ts";
import { fileStore } from "../../service/store/file.ts";
import { storeRows } from "./rows.ts";

/** Row r holds [r, r, ...] so every served row names itself. */
function labelled(n: number, d: number, offset: number): Float32Array {
  return Float32Array.from({ length: n * d }, (_, i) => offset + Math.floor(i / d));
}

Deno.test("rows: shards larger than the buffer stream in blocks; every row is served once per epoch, shuffled", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-rows-" });
  try {
    await Deno.writeFile(
      `${dir}/a.npy`,
      encodeNpy(labelled(300, 4, 0), [300, 4], { dtype: "F16" }),
    );
    await Deno.writeFile(
      `${dir}/b.safetensors`,
      encodeSafetensors({ activations: { shape: [200, 4], data: labelled(200, 4, 300) } }),
    );
    // 1 KiB budget: blocks of 1024 / 2 / 16 = 32 rows, far smaller than either file.
    const source = await storeRows(fileStore(dir), "", { bufferBytes: 1024, seed: 3 });
    assert.equal(source.dIn, 4);
    assert.equal(source.rows, 500);
    const epoch = await source.next(500);
    const ids = Array.from({ length: 500 }, (_, r) => epoch.data[r * 4]);
    assert.deepEqual([...ids].sort((a, b) => a - b), Array.from({ length: 500 }, (_, i) => i));
    assert.ok(ids.some((id, r) => id !== r), "shuffled");
    for (let r = 0; r < 500; r++) {
      assert.ok(
        epoch.data.subarray(r * 4, r * 4 + 4).every((v) => v === ids[r]),
        "rows stay whole",
      );
    }
    // The stream goes on into the next epoch.
    assert.equal((await source.next(10)).rows, 10);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rows: bad data gets clear errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-rows-" });
  try {
    await assert.rejects(storeRows(fileStore(dir), ""), /no .npy or .safetensors rows/);
    await Deno.writeFile(`${dir}/a.npy`, encodeNpy(labelled(4, 3, 0), [4, 3]));
    await Deno.writeFile(`${dir}/b.npy`, encodeNpy(labelled(4, 2, 0), [4, 2]));
    await assert.rejects(storeRows(fileStore(dir), ""), /columns/);
    await Deno.writeFile(`${dir}/c.npy`, encodeNpy(new Float32Array(6).fill(NaN), [2, 3]));
    const one = await storeRows(fileStore(dir), "c.npy");
    await assert.rejects(one.next(2), /non-finite/);
    // A file that is not what its name says is named in the error.
    await Deno.writeTextFile(`${dir}/garbage.npy`, "not numpy at all");
    await assert.rejects(
      storeRows(fileStore(dir), "garbage.npy"),
      /^FormatError: garbage\.npy: .*bad magic/,
    );
    await Deno.writeTextFile(`${dir}/garbage.safetensors`, "xx");
    await assert.rejects(
      storeRows(fileStore(dir), "garbage.safetensors"),
      /^FormatError: garbage\.safetensors: /,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
