/**
 * Ranged ByteSources over HTTP: reads from a real loopback server honouring Range, then each
 * misbehaving answer (Range ignored, another range, wrong length, short, long or broken body,
 * 404) turned into the right SaeError; and the Content-Range / Content-Length parsers.
 * @module
 */

import assert from "node:assert/strict";
import {
  checkRange,
  contentRange,
  declaredLength,
  rangedSource,
  type RangeFetcher,
  WHOLE_OBJECT_MAX_BYTES,
} from "./ranged_source.ts";
import { FormatError, SaeError } from "../../domain/errors.ts";

const OBJECT = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 251);
const label = "https://store.test/dict/weights.safetensors";
const options = { label, retryDelayMs: 1 };

async function read(stream: ReadableStream<Uint8Array>): Promise<number[]> {
  return [...new Uint8Array(await new Response(stream).arrayBuffer())];
}

Deno.test("ranged source: reads exact ranges from a loopback server", async () => {
  const ranges: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const range = request.headers.get("range")!;
    ranges.push(range);
    const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(range)!.map(Number);
    return new Response(OBJECT.slice(a, b + 1), {
      status: 206,
      headers: { "content-range": `bytes ${a}-${b}/${OBJECT.length}` },
    });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}/weights`;
    const source = rangedSource(
      OBJECT.length,
      (range, signal) => fetch(url, { headers: { range }, signal }),
      options,
    );
    assert.equal(source.size, 1000);
    assert.deepEqual(await read(await source.stream(10, 5)), [...OBJECT.slice(10, 15)]);
    assert.deepEqual(await read(await source.stream(0, 1000)), [...OBJECT]);
    assert.deepEqual(await read(await source.stream(999, 1)), [OBJECT[999]]);
    assert.deepEqual(await read(await source.stream(500, 0)), [], "no request for zero bytes");
    assert.deepEqual(ranges, ["bytes=10-14", "bytes=0-999", "bytes=999-999"]);
    await assert.rejects(source.stream(995, 10), FormatError);
  } finally {
    await server.shutdown();
  }
});

/** A source of `size` bytes whose every request gets `answer()`. */
const answering = (size: number, answer: (range: string) => Response) => {
  const asked: string[] = [];
  const fetcher: RangeFetcher = (range) => (asked.push(range), Promise.resolve(answer(range)));
  return { source: rangedSource(size, fetcher, options), asked };
};

const unavailable = (message: RegExp) => (e: unknown) =>
  e instanceof SaeError && e.kind === "unavailable" && message.test(e.message);

Deno.test("ranged source: a 200 for a part is cut from the whole object when it is small", async () => {
  const whole = answering(4, () => new Response(Uint8Array.of(1, 2, 3, 4), { status: 200 }));
  assert.deepEqual(await read(await whole.source.stream(0, 4)), [1, 2, 3, 4]);
  assert.deepEqual(whole.asked, ["bytes=0-3"]);
  // A server that ignores Range: the part asked, cut from the whole object it sent.
  assert.deepEqual(await read(await whole.source.stream(1, 2)), [2, 3]);
  const short = answering(4, () => new Response(Uint8Array.of(1, 2, 3), { status: 200 }));
  await assert.rejects(short.source.stream(1, 2), unavailable(/ended after 3 of 4 bytes/));
  // A body longer than the object is cut off at its size, not read to its end.
  let pulled = 0;
  const endless = answering(4, () =>
    new Response(
      new ReadableStream({
        pull(c) {
          pulled += 1 << 16;
          c.enqueue(new Uint8Array(1 << 16));
        },
      }),
      { status: 200 },
    ));
  await assert.rejects(endless.source.stream(1, 2), unavailable(/more than the 4 bytes/));
  assert.ok(pulled <= 4 << 16, `${pulled} bytes pulled`);
  const lying = answering(4, () =>
    new Response(Uint8Array.of(1, 2, 3, 4, 5), {
      status: 200,
      headers: { "content-length": "5" },
    }));
  await assert.rejects(lying.source.stream(1, 2), unavailable(/sent 5 of 4 bytes/));
  // Over the limit nothing is read whole: weights need a server that honours Range.
  const big = answering(
    WHOLE_OBJECT_MAX_BYTES + 1,
    () => new Response(Uint8Array.of(1), { status: 200 }),
  );
  await assert.rejects(big.source.stream(1, 2), unavailable(/ignored the Range header; objects/));
});

Deno.test("ranged source: another range or a wrong length is refused before reading", async () => {
  const shifted = answering(
    100,
    () =>
      new Response(new Uint8Array(5), {
        status: 206,
        headers: { "content-range": "bytes 11-15/100" },
      }),
  );
  await assert.rejects(
    shifted.source.stream(10, 5),
    unavailable(/different range than bytes 10-14/),
  );
  const long = answering(
    100,
    () => new Response(new Uint8Array(5), { status: 206, headers: { "content-length": "6" } }),
  );
  await assert.rejects(long.source.stream(10, 5), unavailable(/different range/));
  const missing = answering(100, () => new Response("gone", { status: 404 }));
  await assert.rejects(
    missing.source.stream(0, 5),
    (e) => e instanceof SaeError && e.kind === "not_found",
  );
});

Deno.test("ranged source: bodies that run short, long or break error the stream", async () => {
  const body = (bytes: number) => () => new Response(new Uint8Array(bytes), { status: 206 });
  await assert.rejects(
    read(await answering(100, body(3)).source.stream(0, 5)),
    unavailable(/body ended after 3 of 5 bytes/),
  );
  await assert.rejects(
    read(await answering(100, body(8)).source.stream(0, 5)),
    unavailable(/more than the 5 bytes asked/),
  );
  const broken = () =>
    new Response(
      new ReadableStream({
        start: (c) => c.enqueue(Uint8Array.of(1, 2)),
        pull: (c) => c.error(new TypeError("reset by https://u:p@h/x?sig=s")),
      }),
      { status: 206 },
    );
  await assert.rejects(read(await answering(100, broken).source.stream(0, 5)), (e) => {
    assert.ok(unavailable(/connection broke after 2 of 5 bytes/)(e));
    assert.doesNotMatch(String((e as Error).cause), /u:p|sig=/);
    return true;
  });
});

Deno.test("ranged source: checkRange accepts whole bytes inside the object only", () => {
  checkRange(0, 10, { size: 10, label });
  checkRange(10, 0, { size: 10, label });
  for (const [offset, length] of [[-1, 2], [0, 11], [5, 6], [1.5, 1], [0, NaN], [2, -1]]) {
    assert.throws(
      () => checkRange(offset, length, { size: 10, label }),
      (e) =>
        e instanceof FormatError &&
        e.message.startsWith(`bytes: range ${offset}+${length} outside 10 bytes`),
    );
  }
});

Deno.test("ranged source: Content-Range and Content-Length parsing", () => {
  assert.deepEqual(contentRange("bytes 0-9/100"), { start: 0, end: 9, total: 100 });
  assert.deepEqual(contentRange("  BYTES 5-5/*  "), { start: 5, end: 5, total: null });
  assert.deepEqual(contentRange("bytes */100"), { start: null, end: null, total: 100 });
  for (const bad of [null, "", "bytes 0-9", "items 0-9/10", "bytes -1-9/10", "bytes a-b/c"]) {
    assert.equal(contentRange(bad), null, String(bad));
  }
  const headers = (h: Record<string, string>) => new Headers(h);
  assert.equal(declaredLength(headers({ "content-length": "42" })), 42);
  assert.equal(
    declaredLength(headers({ "content-length": "42", "content-encoding": "identity" })),
    42,
  );
  assert.equal(
    declaredLength(headers({ "content-length": "42", "content-encoding": "gzip" })),
    null,
  );
  assert.equal(declaredLength(headers({ "content-length": "4e1" })), null);
  assert.equal(declaredLength(headers({})), null);
});
