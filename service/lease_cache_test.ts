/**
 * The generic lease cache: LRU under a byte budget, leases keep entries in use, concurrent
 * borrows share one load, failed loads back off exponentially until the retry time or a new
 * version, unclassified failures are never remembered. Keys are tagged like the registry's.
 * @module
 */

import assert from "node:assert/strict";
import {
  type FailureKind,
  LeaseCache,
  type LeaseCacheOptions,
  type Loader,
} from "./lease_cache.ts";

type Key = { kind: "a" | "b"; id: string };

class Broken extends Error {}
class Flaky extends Error {}

function cache(
  options?: Partial<LeaseCacheOptions<Key, string>>,
): { cache: LeaseCache<Key, string>; disposed: string[]; evicted: string[]; clock: { t: number } } {
  const disposed: string[] = [];
  const evicted: string[] = [];
  const clock = { t: 0 };
  const c = new LeaseCache<Key, string>({
    budget: 10,
    keyOf: (k) => `${k.kind}:${k.id}`,
    backoff: { broken: { firstMs: 1000, maxMs: 4000 }, transient: { firstMs: 100, maxMs: 100 } },
    classify: (e): FailureKind | null =>
      e instanceof Broken ? "broken" : e instanceof Flaky ? "transient" : null,
    annotate: (e, { delayMs }) => new Error(`${(e as Error).message} (retry in ${delayMs})`),
    dispose: (v) => disposed.push(v),
    onEvict: (k) => evicted.push(`${k.kind}:${k.id}`),
    now: () => clock.t,
    ...options,
  });
  return { cache: c, disposed, evicted, clock };
}

/** A loader of `value` costing `bytes`, counting loads; `fail` makes loads throw it. */
function loader(
  value: string,
  bytes: number,
  state: { loads: number; version?: string; fail?: Error; lookFails?: boolean },
): Loader<string, null> {
  return {
    look: () =>
      state.lookFails
        ? Promise.reject(new Flaky("cannot look"))
        : Promise.resolve({ state: null, version: state.version ?? "v1" }),
    load: () => {
      state.loads++;
      return state.fail ? Promise.reject(state.fail) : Promise.resolve({ value, bytes });
    },
  };
}

Deno.test("lease cache: idle entries beyond the budget go least recently used first", async () => {
  const { cache: c, disposed, evicted } = cache();
  const a = { kind: "a", id: "x" } as const;
  const b = { kind: "b", id: "x" } as const; // same id, other kind: another entry
  const d = { kind: "a", id: "y" } as const;
  (await c.borrow(a, loader("A", 4, { loads: 0 }))).release();
  (await c.borrow(b, loader("B", 4, { loads: 0 }))).release();
  assert.equal(c.size, 2);
  assert.equal(c.bytes, 8);
  (await c.borrow(a, loader("A", 4, { loads: 0 }))).release(); // a is now the most recent
  (await c.borrow(d, loader("D", 4, { loads: 0 }))).release();
  assert.deepEqual(evicted, ["b:x"]);
  assert.deepEqual(disposed, ["B"]);
  assert.equal(c.peek(a), "A");
  assert.equal(c.peek(b), undefined);
  assert.equal(c.bytes, 8);
});

Deno.test("lease cache: a leased entry is never evicted; its release lets it go", async () => {
  const { cache: c, evicted } = cache();
  const a = { kind: "a", id: "1" } as const;
  const held = await c.borrow(a, loader("A", 8, { loads: 0 }));
  const other = await c.borrow({ kind: "a", id: "2" }, loader("B", 8, { loads: 0 }));
  assert.equal(c.bytes, 16, "over budget while both are held");
  other.release(); // the idle one goes, the held one stays although it is older
  assert.deepEqual(evicted, ["a:2"]);
  assert.equal(c.peek(a), "A");
  held.release();
  held.release(); // idempotent: the count of users does not go negative
  const again = await c.borrow(a, loader("A", 8, { loads: 0 }));
  (await c.borrow({ kind: "a", id: "3" }, loader("C", 8, { loads: 0 }))).release();
  assert.deepEqual(evicted, ["a:2", "a:3"], "a fresh entry is spared at admission only");
  again.release();
  assert.equal(c.size, 1);
  assert.equal(c.bytes, 8);
});

Deno.test("lease cache: concurrent borrows of one key share one load", async () => {
  const { cache: c } = cache();
  const state = { loads: 0 };
  const key = { kind: "a", id: "z" } as const;
  const leases = await Promise.all([1, 2, 3].map(() => c.borrow(key, loader("Z", 1, state))));
  assert.equal(state.loads, 1);
  assert.deepEqual(leases.map((l) => l.value), ["Z", "Z", "Z"]);
  for (const l of leases) l.release();
  await c.borrow(key, loader("Z", 1, state));
  assert.equal(state.loads, 1, "a loaded key is not loaded again");
});

Deno.test("lease cache: a broken load backs off, doubling up to the maximum", async () => {
  const { cache: c, clock } = cache();
  const key = { kind: "a", id: "bad" } as const;
  const state = { loads: 0, fail: new Broken("corrupt") };
  const attempt = () => c.borrow(key, loader("X", 1, state));
  await assert.rejects(attempt(), /corrupt \(retry in 1000\)/);
  await assert.rejects(attempt(), /corrupt \(retry in 1000\)/);
  assert.equal(state.loads, 1, "remembered: not loaded again before the retry time");
  clock.t = 600;
  await assert.rejects(attempt(), /retry in 400/);
  assert.equal(c.recall(key, "v1")?.kind, "broken");
  assert.equal(c.recall(key, "v2"), undefined, "another version is not the failure's");
  clock.t = 1000;
  await assert.rejects(attempt(), /retry in 2000/);
  clock.t = 3000;
  await assert.rejects(attempt(), /retry in 4000/);
  clock.t = 7000;
  await assert.rejects(attempt(), /retry in 4000/, "capped at maxMs");
  assert.equal(state.loads, 4);
});

Deno.test("lease cache: a new version or a success forgets the failure", async () => {
  const { cache: c } = cache();
  const key = { kind: "b", id: "f" } as const;
  const state: { loads: number; version: string; fail?: Error } = {
    loads: 0,
    version: "v1",
    fail: new Broken("corrupt"),
  };
  await assert.rejects(c.borrow(key, loader("F", 1, state)), /retry in 1000/);
  state.version = "v2";
  await assert.rejects(c.borrow(key, loader("F", 1, state)), /retry in 1000/, "starts over");
  assert.equal(state.loads, 2);
  state.version = "v3";
  state.fail = undefined;
  (await c.borrow(key, loader("F", 1, state))).release();
  assert.equal(c.recall(key, "v3"), undefined);
  assert.equal(c.recall(key, "v2"), undefined);
});

Deno.test("lease cache: unclassified failures are not remembered", async () => {
  const { cache: c } = cache();
  const key = { kind: "a", id: "missing" } as const;
  const state = { loads: 0, fail: new Error("not found") };
  await assert.rejects(c.borrow(key, loader("M", 1, state)), /^Error: not found$/);
  await assert.rejects(c.borrow(key, loader("M", 1, state)), /not found/);
  assert.equal(state.loads, 2);
});

Deno.test("lease cache: a transient failure whose source cannot be looked at is retried once it can", async () => {
  const { cache: c } = cache();
  const key = { kind: "a", id: "t" } as const;
  const flaky = new Flaky("store down");
  const state: { loads: number; fail?: Error; lookFails?: boolean } = { loads: 0, fail: flaky };
  // The load fails, and the look after it fails too: the failure is kept with no version.
  const source = loader("T", 1, state);
  const failing: Loader<string, null> = {
    look: source.look,
    load: (s) => {
      state.lookFails = true;
      return source.load(s);
    },
  };
  await assert.rejects(c.borrow(key, failing), /store down \(retry in 100\)/);
  state.lookFails = false;
  state.fail = undefined;
  (await c.borrow(key, source)).release();
  assert.equal(state.loads, 2, "the source looks again, so it loads again at once");
});

Deno.test("lease cache: remember without a load, and clear", async () => {
  const { cache: c, disposed } = cache();
  const key = { kind: "a", id: "r" } as const;
  assert.match(
    String(c.remember(key, new Broken("bad"), { kind: "broken", version: "v" })),
    /1000/,
  );
  assert.match(
    String(c.remember(key, new Broken("bad"), { kind: "broken", version: "v" })),
    /2000/,
  );
  assert.match(String(c.recall(key, "v")?.error), /bad \(retry in 2000\)/);
  (await c.borrow({ kind: "b", id: "kept" }, loader("K", 1, { loads: 0 }))).release();
  c.clear();
  assert.deepEqual(disposed, ["K"]);
  assert.equal(c.size, 0);
  assert.equal(c.recall(key, "v"), undefined);
});

Deno.test("lease cache: onLoaded is told of each successful load only", async () => {
  const told: string[] = [];
  const { cache: c } = cache({ onLoaded: (k) => told.push(`${k.kind}:${k.id}`) });
  const a = { kind: "a", id: "x" } as const;
  const b = { kind: "b", id: "x" } as const;
  const state = { loads: 0 };
  const [l1, l2] = await Promise.all([
    c.borrow(a, loader("A", 1, state)),
    c.borrow(a, loader("A", 1, state)),
  ]);
  l1.release();
  l2.release();
  (await c.borrow(a, loader("A", 1, state))).release();
  await assert.rejects(c.borrow(b, loader("B", 1, { loads: 0, fail: new Broken("bad") })));
  assert.equal(state.loads, 1);
  assert.deepEqual(told, ["a:x"]);
});
