/**
 * The idle collector: it collects only once no work has been in progress for its delay and
 * the heap grew enough since the last collection, at once after a load (busy or not), never
 * after close; and V8's memory-reducing collection it uses by default gives back the garbage
 * and young generation a large JSON parse leaves (in a child process with --expose-gc).
 * @module
 */

import assert from "node:assert/strict";
import { IdleCollector } from "./idle_collector.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A collector over a fake heap: collecting frees all but `floor` bytes. */
function fake(floor: number) {
  const heap = { bytes: 0 };
  const collector = new IdleCollector({
    delayMs: 10,
    minGrowthBytes: 100,
    heapBytes: () => heap.bytes,
    collect: () => (heap.bytes = floor),
  });
  return { heap, collector };
}

Deno.test("idle collector: collects after the delay once idle and grown, never while busy", async () => {
  const { heap, collector } = fake(20);
  try {
    await sleep(40);
    assert.equal(collector.collections, 0, "no growth since start-up");
    heap.bytes = 150;
    const done = collector.enter();
    await sleep(40);
    assert.equal(collector.collections, 0, "work in progress");
    const other = collector.enter();
    done();
    done();
    await sleep(40);
    assert.equal(collector.collections, 0, "one piece of work still in progress");
    other();
    await sleep(40);
    assert.equal(collector.collections, 1);
    assert.equal(heap.bytes, 20);
    heap.bytes = 110; // 90 over the last collection's 20: under the threshold
    collector.enter()();
    await sleep(40);
    assert.equal(collector.collections, 1);
    heap.bytes = 125;
    collector.enter()();
    await sleep(40);
    assert.equal(collector.collections, 2);
  } finally {
    collector.close();
  }
});

Deno.test("idle collector: collects at once after a load, even with work in progress", async () => {
  const { heap, collector } = fake(5);
  try {
    const done = collector.enter();
    heap.bytes = 50; // under the idle threshold: a load collects regardless
    collector.afterLoad();
    collector.afterLoad();
    await sleep(5);
    assert.equal(collector.collections, 1);
    done();
  } finally {
    collector.close();
  }
});

Deno.test("idle collector: nothing runs after close, and nothing without a collection", async () => {
  const { heap, collector } = fake(0);
  heap.bytes = 1000;
  collector.enter()();
  collector.afterLoad();
  collector.close();
  await sleep(40);
  assert.equal(collector.collections, 0);
  const none = new IdleCollector({ collect: null, delayMs: 1 });
  none.enter()();
  none.afterLoad();
  await sleep(10);
  assert.equal(none.collections, 0);
});

/** In a child: parse a 12 MB JSON body, then report heap + external before and after. */
const CHILD = `
import { IdleCollector, v8Collection } from ${
  JSON.stringify(import.meta.resolve("./idle_collector.ts"))
};
const rows = Array.from({ length: 256 }, (_, r) => Array.from({ length: 2304 }, (_, c) => Math.sin(r * c)));
const text = JSON.stringify({ activations: rows });
for (let i = 0; i < 3; i++) JSON.parse(new TextDecoder().decode(new TextEncoder().encode(text)));
const usage = () => { const m = Deno.memoryUsage(); return m.heapTotal + m.external; };
const before = usage();
const collector = new IdleCollector({ delayMs: 1 });
collector.enter()();
await new Promise((r) => setTimeout(r, 50));
console.log(JSON.stringify({ exposed: v8Collection() !== undefined, before, after: usage(), collections: collector.collections }));
`;

async function child(flags: string[]): Promise<Record<string, number | boolean>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", ...flags, CHILD],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("idle collector: V8's memory-reducing collection gives back a JSON parse's heap", async () => {
  const r = await child(["--v8-flags=--expose-gc"]);
  assert.equal(r.exposed, true);
  assert.equal(r.collections, 1);
  // A plain full collection keeps the grown young generation (about 3/4 stays here).
  assert.ok(
    (r.after as number) < (r.before as number) / 2,
    `${r.after} of ${r.before} bytes left`,
  );
  const plain = await child([]);
  assert.equal(plain.exposed, false);
  assert.equal(plain.collections, 0);
});
