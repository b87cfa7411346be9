import assert from "node:assert/strict";
import { type Context, Hono } from "hono";
import { z } from "zod";
import { SaeError } from "../domain/errors.ts";
import {
  expectQuery,
  jsonBody,
  parseJsonObject,
  queryOptions,
  readBody,
  requestForm,
  validate,
} from "./body.ts";
import { kindOf } from "../tests/sae_errors.ts";

/** Run `work` on a request and answer what it returned, or the kind of SaeError it threw. */
async function onRequest(
  init: RequestInit & { url?: string },
  work: (c: Context) => Promise<unknown> | unknown,
): Promise<unknown> {
  const app = new Hono();
  app.post("/", async (c) => {
    try {
      return c.json({ value: await work(c) });
    } catch (e) {
      if (e instanceof SaeError) return c.json({ kind: e.kind });
      throw e;
    }
  });
  return await (await app.request(init.url ?? "/", { method: "POST", ...init })).json();
}

Deno.test("requestForm: JSON and .npy by Content-Type, anything else is 415", async () => {
  const form = (type: string) =>
    onRequest({ headers: { "content-type": type }, body: "" }, (c) => requestForm(c));
  assert.deepEqual(await form("application/json; charset=utf-8"), { value: "json" });
  assert.deepEqual(await form("application/problem+json"), { value: "json" });
  assert.deepEqual(await form("application/x-npy"), { value: "npy" });
  assert.deepEqual(await form("text/plain"), { kind: "unsupported_media" });
});

Deno.test("readBody refuses more than the limit; jsonBody validates and is JSON-only", async () => {
  assert.deepEqual(
    await onRequest({ body: "x".repeat(100) }, async (c) => (await readBody(c, 10)).length),
    { kind: "too_large" },
  );
  assert.deepEqual(
    await onRequest({ body: "abc" }, async (c) => (await readBody(c, 10)).length),
    { value: 3 },
  );
  const schema = z.object({ top: z.number().int().min(1) }).strict();
  const send = (type: string, body: string) =>
    onRequest(
      { headers: { "content-type": type }, body },
      (c) => jsonBody(c, schema, { maxBodyBytes: 64 }),
    );
  assert.deepEqual(await send("application/json", '{"top": 3}'), { value: { top: 3 } });
  assert.deepEqual(await send("application/json", '{"top": 0}'), { kind: "invalid" });
  assert.deepEqual(await send("application/json", '{"top": "3"}'), { kind: "malformed" });
  assert.deepEqual(await send("application/json", "[1]"), { kind: "malformed" });
  assert.deepEqual(await send("application/x-npy", "{}"), { kind: "unsupported_media" });
  assert.deepEqual(await send("application/json", `{"top": ${"1".repeat(80)}}`), {
    kind: "too_large",
  });
});

Deno.test("readBody: a declared length is read at once, a stream in chunks; both keep the limit", async () => {
  const bytes = Uint8Array.from({ length: 300 }, (_, i) => i % 251);
  const sum = (b: Uint8Array) => b.reduce((t, x) => t + x, 0);
  const read = (init: RequestInit) => onRequest(init, async (c) => sum(await readBody(c, 256)));
  const declared = (n: number) => ({ "content-length": String(n) });
  const chunked = (n: number) =>
    new ReadableStream<Uint8Array>({
      start(ctl) {
        for (let at = 0; at < n; at += 64) ctl.enqueue(bytes.slice(at, Math.min(n, at + 64)));
        ctl.close();
      },
    });
  // Declared and within the limit: every byte, in order.
  assert.deepEqual(await read({ headers: declared(200), body: bytes.slice(0, 200) }), {
    value: sum(bytes.slice(0, 200)),
  });
  // Declared over the limit: refused before reading.
  assert.deepEqual(await read({ headers: declared(300), body: bytes }), { kind: "too_large" });
  // A Request made in-process that declares less than it carries is still held to the limit.
  assert.deepEqual(await read({ headers: declared(10), body: bytes }), { kind: "too_large" });
  // No length: streamed in chunks, refused once past the limit.
  assert.deepEqual(await read({ body: chunked(200) }), { value: sum(bytes.slice(0, 200)) });
  assert.deepEqual(await read({ body: chunked(300) }), { kind: "too_large" });
});

Deno.test("readBody: a body whose stream breaks (client gone mid-upload) is a 400, not a 500", async () => {
  const broken = () =>
    new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(new Uint8Array(8));
        ctl.error(new Error("connection reset"));
      },
    });
  const read = (init: RequestInit) => onRequest(init, async (c) => (await readBody(c, 256)).length);
  assert.deepEqual(await read({ body: broken() }), { kind: "malformed" });
  assert.deepEqual(await read({ headers: { "content-length": "100" }, body: broken() }), {
    kind: "malformed",
  });
});

Deno.test("parseJsonObject, validate and queryOptions", async () => {
  assert.equal(kindOf(() => parseJsonObject(new TextEncoder().encode("{"))), "malformed");
  assert.equal(kindOf(() => validate(z.enum(["a"]), "b", { where: "option" })), "invalid");
  const q = await onRequest(
    { url: "/?top=3&include=metrics,error&name=x&interventions=%5B1%5D", body: "" },
    (c) => queryOptions(c, { listKeys: ["include"], jsonKeys: ["interventions"] }),
  );
  assert.deepEqual(q, {
    value: { top: 3, include: ["metrics", "error"], name: "x", interventions: [1] },
  });
  // A parameter given twice is refused, not resolved to its last value; inherited names are fine.
  const twice = await onRequest({ url: "/?top=3&top=4", body: "" }, (c) => queryOptions(c, {}));
  assert.deepEqual(twice, { kind: "malformed" });
  const inherited = await onRequest(
    { url: "/?constructor=1&toString=2", body: "" },
    (c) => queryOptions(c, {}),
  );
  assert.deepEqual(inherited, { value: { constructor: 1, toString: 2 } });
});

Deno.test("expectQuery: unknown or repeated parameters are a 400 naming them", async () => {
  const check = (query: string) =>
    onRequest({ url: `/${query}` }, (c) => (expectQuery(c, ["q", "top"]), 1));
  assert.deepEqual(await check("?q=a&top=2"), { value: 1 });
  assert.deepEqual(await check(""), { value: 1 });
  assert.deepEqual(await check("?q=a&foo=1"), { kind: "malformed" });
  assert.deepEqual(await check("?q=a&q=b"), { kind: "malformed" });
});

Deno.test("readBody: a compressed body is a 415 naming its Content-Encoding", async () => {
  const read = (encoding: string) =>
    onRequest(
      { headers: { "content-encoding": encoding }, body: "x" },
      async (c) => (await readBody(c, 256)).length,
    );
  assert.deepEqual(await read("gzip"), { kind: "unsupported_media" });
  assert.deepEqual(await read("identity"), { value: 1 });
});

Deno.test("validate: unknown fields and query text of the wrong type are named plainly", () => {
  const schema = z.object({ top: z.number().optional() }).strict();
  const detail = (value: unknown, where: string) => {
    try {
      validate(schema, value, { where });
      return "";
    } catch (e) {
      return (e as SaeError).message;
    }
  };
  assert.equal(detail({ foo: 1 }, "body"), 'body: unknown field "foo"');
  assert.equal(detail({ foo: 1, bar: 2 }, "option"), 'option: unknown options "foo", "bar"');
  assert.equal(detail({ top: "abc" }, "option"), 'option top: expected number, got "abc"');
});

Deno.test("queryOptions: text that looks like a number stays text for the keys that take text", async () => {
  const read = (query: string) =>
    onRequest({ url: `/${query}` }, (c) => queryOptions(c, { stringKeys: ["dictionary"] }));
  assert.deepEqual(await read("?dictionary=12345&k=16"), { value: { dictionary: "12345", k: 16 } });
});
