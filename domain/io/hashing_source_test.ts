import assert from "node:assert/strict";
import { type ByteSource, bytesSource, readRange } from "./byte_source.ts";
import { hashingSource } from "./hashing_source.ts";
import { fileStore } from "../../service/store/file.ts";
import { randomBytes } from "../../tests/random_bytes.ts";

async function subtleHex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A source that hands out small chunks and counts the bytes it streamed. */
function countingSource(bytes: Uint8Array): ByteSource & { streamed: number } {
  const counter = {
    size: bytes.byteLength,
    streamed: 0,
    stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
      const view = bytes.subarray(offset, offset + length);
      let at = 0;
      return Promise.resolve(
        new ReadableStream<Uint8Array>({
          pull(controller): void {
            if (at >= view.byteLength) return controller.close();
            const step = Math.min(view.byteLength - at, 1 + Math.floor(Math.random() * 5000));
            controller.enqueue(view.subarray(at, at + step));
            counter.streamed += step;
            at += step;
          },
        }),
      );
    },
  };
  return counter;
}

Deno.test("hashingSource reading front to back costs one pass and gives the sha256", async () => {
  const bytes = randomBytes(200_000);
  const inner = countingSource(bytes);
  const h = hashingSource(inner);
  let at = 0;
  while (at < bytes.byteLength) {
    const step = Math.min(bytes.byteLength - at, 30_000);
    assert.deepEqual(
      await readRange(h.source, { offset: at, length: step }),
      bytes.subarray(at, at + step),
    );
    at += step;
  }
  assert.equal(await h.finish(), await subtleHex(bytes));
  assert.equal(inner.streamed, bytes.byteLength);
});

Deno.test("hashingSource hashes only the uncovered tail in finish after header peeks", async () => {
  const bytes = randomBytes(50_000);
  const inner = countingSource(bytes);
  const h = hashingSource(inner);
  await readRange(h.source, { offset: 49_000, length: 1000 }); // a zip-style tail peek: passes through unhashed
  await readRange(h.source, { offset: 0, length: 100 }); // hashed
  await readRange(h.source, { offset: 50, length: 200 }); // overlaps the position: hashes 100..250
  await readRange(h.source, { offset: 10_000, length: 20 }); // ahead of the position: unhashed
  assert.equal(inner.streamed, 1000 + 100 + 200 + 20);
  assert.equal(await h.finish(), await subtleHex(bytes));
  assert.equal(inner.streamed, 1000 + 100 + 200 + 20 + (50_000 - 250));
});

Deno.test("hashingSource yields the right digest for random access patterns", async () => {
  for (let trial = 0; trial < 40; trial++) {
    const size = Math.floor(Math.random() * 20_000);
    const bytes = randomBytes(size);
    const h = hashingSource(countingSource(bytes));
    const reads = Math.floor(Math.random() * 12);
    for (let r = 0; r < reads && size > 0; r++) {
      const offset = Math.floor(Math.random() * size);
      const length = Math.floor(Math.random() * (size - offset + 1));
      assert.deepEqual(
        await readRange(h.source, { offset, length }),
        bytes.subarray(offset, offset + length),
      );
    }
    assert.equal(await h.finish(), await subtleHex(bytes), `trial ${trial} size ${size}`);
  }
});

Deno.test("hashingSource passes reads through unchanged and without hashing after finish", async () => {
  const bytes = randomBytes(5000);
  const h = hashingSource(bytesSource(bytes));
  const digest = await h.finish();
  assert.equal(digest, await subtleHex(bytes));
  assert.deepEqual(await readRange(h.source, { offset: 0, length: 5000 }), bytes);
  assert.equal(await h.finish(), digest);
  assert.equal(h.source.size, 5000);
});

Deno.test("hashingSource keeps hashing when a cancelled stream is followed by one at the position", async () => {
  const bytes = randomBytes(40_000);
  const h = hashingSource(countingSource(bytes));
  const reader = (await h.source.stream(0, 40_000)).getReader();
  const first = await reader.read();
  assert.ok(!first.done);
  await reader.cancel();
  const consumed = first.value.byteLength;
  assert.deepEqual(
    await readRange(h.source, { offset: consumed, length: 40_000 - consumed }),
    bytes.subarray(consumed),
  );
  assert.equal(await h.finish(), await subtleHex(bytes));
});

Deno.test("hashingSource lets a newer read at the position take over from an abandoned stream", async () => {
  const bytes = randomBytes(30_000);
  const inner = countingSource(bytes);
  const h = hashingSource(inner);
  const abandoned = (await h.source.stream(0, 30_000)).getReader();
  const first = await abandoned.read();
  assert.ok(!first.done);
  const at = first.value.byteLength;
  assert.deepEqual(
    await readRange(h.source, { offset: at, length: 30_000 - at }),
    bytes.subarray(at),
  );
  const before = inner.streamed;
  assert.equal(await h.finish(), await subtleHex(bytes));
  assert.equal(inner.streamed, before, "finish had nothing left to fetch");
  await abandoned.cancel();
});

Deno.test("hashingSource finish can be retried after the underlying read fails", async () => {
  const bytes = randomBytes(10_000);
  let failNext = true;
  const flaky: ByteSource = {
    size: bytes.byteLength,
    stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error("store down"));
      }
      return bytesSource(bytes).stream(offset, length);
    },
  };
  const h = hashingSource(flaky);
  await assert.rejects(h.finish(), /store down/);
  assert.equal(await h.finish(), await subtleHex(bytes));
});

Deno.test("hashingSource of an empty object is the empty sha256", async () => {
  const h = hashingSource(bytesSource(new Uint8Array(0)));
  assert.equal(
    await h.finish(),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});

Deno.test("hashingSource over a real file store: front-to-back reads give the file's sha256", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-hashing-" });
  try {
    const bytes = randomBytes(3 * (1 << 20) + 321);
    await Deno.writeFile(`${dir}/w.bin`, bytes);
    const h = hashingSource(await fileStore(dir).open("w.bin"));
    await readRange(h.source, { offset: bytes.byteLength - 100, length: 100 }); // a tail peek, unhashed
    for (let at = 0; at < bytes.byteLength; at += 1_000_000) {
      const length = Math.min(1_000_000, bytes.byteLength - at);
      assert.deepEqual(
        await readRange(h.source, { offset: at, length }),
        bytes.subarray(at, at + length),
      );
    }
    assert.equal(await h.finish(), await subtleHex(bytes));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashingSource: readInto reads in order feed the hash like streamed ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-hashing-" });
  try {
    const bytes = randomBytes((1 << 20) + 77);
    await Deno.writeFile(`${dir}/w.bin`, bytes);
    const h = hashingSource(await fileStore(dir).open("w.bin"));
    const head = new Uint8Array(1000);
    await h.source.readInto!(0, head);
    assert.deepEqual(head, bytes.subarray(0, 1000));
    const skipped = new Uint8Array(10);
    await h.source.readInto!(5000, skipped); // out of order: not hashed, finish() fetches the gap
    const rest = new Uint8Array(bytes.length - 1000 - 4000);
    await h.source.readInto!(1000 + 4000, rest);
    assert.equal(await h.finish(), await subtleHex(bytes));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
