import assert from "node:assert/strict";
import { bytesSource } from "./byte_source.ts";
import { SaeError } from "../errors.ts";
import { encodeZip, openZipEntry, readZipDirectory } from "./zip.ts";

const text = (s: string) => new TextEncoder().encode(s);
const all = async (s: ReadableStream<Uint8Array>) =>
  new Uint8Array(await new Response(s).arrayBuffer());
const malformed = (pattern: RegExp) => (e: unknown) =>
  e instanceof SaeError && e.kind === "malformed" && pattern.test(e.message);

Deno.test("zip: directory lists names, methods and sizes; members stream back intact", async () => {
  const payload = text("hello ".repeat(1000));
  for (const compress of [false, true]) {
    const bytes = await encodeZip([{ name: "a.txt", data: payload }, {
      name: "b/c.bin",
      data: text("xyz"),
    }], { compress });
    const source = bytesSource(bytes);
    const entries = await readZipDirectory(source);
    assert.deepEqual(entries.map((e) => e.name), ["a.txt", "b/c.bin"]);
    assert.equal(entries[0].method, compress ? 8 : 0);
    assert.equal(entries[0].uncompressedSize, payload.length);
    if (compress) assert.ok(entries[0].compressedSize < payload.length / 10);
    assert.deepEqual(await all(await openZipEntry(source, entries[0])), payload);
  }
});

Deno.test("zip: ZIP64 end records and extra fields are read", async () => {
  const source = bytesSource(await encodeZip([{ name: "x", data: text("abc") }], { zip64: true }));
  const [entry] = await readZipDirectory(source);
  assert.equal(entry.uncompressedSize, 3);
  assert.equal(entry.localHeaderOffset, 0);
  assert.deepEqual(await all(await openZipEntry(source, entry)), text("abc"));
});

Deno.test("zip: a corrupted member fails its CRC check instead of yielding wrong bytes", async () => {
  const bytes = await encodeZip([{ name: "x", data: text("abcdefgh") }]);
  const at = bytes.indexOf(0x61); // first 'a' of the stored data
  bytes[at] = 0x62;
  const source = bytesSource(bytes);
  const [entry] = await readZipDirectory(source);
  await assert.rejects(all(await openZipEntry(source, entry)), malformed(/CRC/));
});

Deno.test("zip: corrupt deflate data is a malformed error", async () => {
  const bytes = await encodeZip([{ name: "x", data: text("abcdefgh".repeat(50)) }], {
    compress: true,
  });
  const source = bytesSource(bytes);
  const [entry] = await readZipDirectory(source);
  for (let i = 0; i < entry.compressedSize; i++) bytes[entry.localHeaderOffset + 31 + i] = 0xff;
  await assert.rejects(all(await openZipEntry(source, entry)), malformed(/x/));
});

Deno.test("zip: truncated and non-zip files are rejected before any member is read", async () => {
  const bytes = await encodeZip([{ name: "x", data: text("abc") }]);
  await assert.rejects(
    readZipDirectory(bytesSource(bytes.slice(0, bytes.length - 5))),
    malformed(/end-of-central-directory/),
  );
  await assert.rejects(readZipDirectory(bytesSource(new Uint8Array(10))), malformed(/too short/));
  await assert.rejects(
    readZipDirectory(bytesSource(new Uint8Array(1000))),
    malformed(/end-of-central-directory/),
  );
  // A directory offset pointing past the end.
  const bad = bytes.slice();
  new DataView(bad.buffer).setUint32(bad.length - 6, 1 << 30, true);
  await assert.rejects(readZipDirectory(bytesSource(bad)), malformed(/past the end/));
});

Deno.test("zip: duplicate member names are rejected", async () => {
  const bytes = await encodeZip([{ name: "x", data: text("a") }, { name: "x", data: text("b") }]);
  await assert.rejects(readZipDirectory(bytesSource(bytes)), malformed(/duplicate/));
});
