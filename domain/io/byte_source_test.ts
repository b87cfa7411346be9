import assert from "node:assert/strict";
import { FormatError } from "../errors.ts";
import { bytesSource, readInto, readRange, tailSource } from "./byte_source.ts";

const bytes = Uint8Array.from({ length: 3 << 20 }, (_, i) => i * 7);

Deno.test("bytesSource: ranges read back exactly, in 1 MiB chunks; outside ranges fail", async () => {
  const source = bytesSource(bytes);
  assert.equal(source.size, bytes.length);
  assert.deepEqual(await readRange(source, { offset: 5, length: 10 }), bytes.subarray(5, 15));
  const reader = (await source.stream(0, (2 << 20) + 1)).getReader();
  const sizes: number[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) sizes.push(r.value.length);
  assert.deepEqual(sizes, [1 << 20, 1 << 20, 1]);
  await assert.rejects(source.stream(bytes.length - 1, 2), FormatError);
  await assert.rejects(readRange(source, { offset: -1, length: 1 }), FormatError);
});

Deno.test("readInto: the target must be filled exactly", async () => {
  const stream = () => bytesSource(Uint8Array.of(1, 2, 3)).stream(0, 3);
  assert.deepEqual(await readInto(await stream(), new Uint8Array(3)), Uint8Array.of(1, 2, 3));
  await assert.rejects(readInto(await stream(), new Uint8Array(2)), /more than the expected 2/);
  await assert.rejects(readInto(await stream(), new Uint8Array(4)), /ended after 3 of 4/);
});

Deno.test("tailSource: the bytes from an offset on, with its own bounds", async () => {
  const tail = tailSource(bytesSource(Uint8Array.of(9, 8, 7, 6, 5)), 2);
  assert.equal(tail.size, 3);
  assert.deepEqual(await readRange(tail, { offset: 0, length: 3 }), Uint8Array.of(7, 6, 5));
  assert.deepEqual(await readRange(tail, { offset: 1, length: 1 }), Uint8Array.of(6));
  await assert.rejects(tail.stream(2, 2), FormatError);
  assert.throws(() => tailSource(bytesSource(new Uint8Array(2)), 3), FormatError);
  assert.equal(tailSource(bytesSource(new Uint8Array(2)), 2).size, 0);
});
