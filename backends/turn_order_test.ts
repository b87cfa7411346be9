import assert from "node:assert/strict";
import { DEFAULT_LIVE_TURNS, TurnOrder } from "./turn_order.ts";

Deno.test("TurnOrder: live first, one research turn after liveTurns live turns while research waits", () => {
  const order = new TurnOrder(2);
  const both = { live: 5, research: 5 };
  assert.deepEqual(
    Array.from({ length: 7 }, () => order.next(both)),
    ["live", "live", "research", "live", "live", "research", "live"],
  );
  // Live turns with no research waiting do not count toward research's turn.
  const fresh = new TurnOrder(2);
  assert.equal(fresh.next({ live: 3, research: 0 }), "live");
  assert.equal(fresh.next({ live: 3, research: 0 }), "live");
  assert.equal(fresh.next({ live: 3, research: 1 }), "live");
  assert.equal(fresh.next({ live: 3, research: 1 }), "live");
  assert.equal(fresh.next({ live: 3, research: 1 }), "research");
  // Research alone goes at once; nothing waiting gives null.
  assert.equal(fresh.next({ live: 0, research: 1 }), "research");
  assert.equal(fresh.next({ live: 0, research: 0 }), null);
});

Deno.test("TurnOrder: 0 keeps strict priority; the default and bad values", () => {
  const strict = new TurnOrder(0);
  for (let i = 0; i < 20; i++) assert.equal(strict.next({ live: 1, research: 1 }), "live");
  assert.equal(strict.next({ live: 0, research: 1 }), "research");
  assert.equal(new TurnOrder().liveTurns, DEFAULT_LIVE_TURNS);
  assert.throws(() => new TurnOrder(-1), RangeError);
  assert.throws(() => new TurnOrder(1.5), RangeError);
});
