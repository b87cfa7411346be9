import assert from "node:assert/strict";
import { addressBucket, FAILURE_WINDOW_MS, FailureWindows } from "./auth_failures.ts";

Deno.test("addressBucket: IPv4 as is, IPv6 by /64, mapped IPv4 as IPv4, junk as given", () => {
  assert.equal(addressBucket("10.0.0.7"), "10.0.0.7");
  assert.equal(addressBucket("2001:db8:0:1:aa::1"), "2001:db8:0:1::/64");
  assert.equal(addressBucket("[::ffff:192.0.2.1]"), "192.0.2.1");
  assert.equal(addressBucket("not an address"), "not an address");
});

Deno.test("FailureWindows: locked after the limit until the window ends; 0 never locks", () => {
  let now = 1_000;
  const windows = new FailureWindows(2, { now: () => now });
  windows.record("a");
  assert.equal(windows.lockedFor("a"), 0);
  windows.record("a");
  assert.equal(windows.lockedFor("a"), FAILURE_WINDOW_MS / 1000);
  assert.equal(windows.lockedFor("b"), 0);
  now += FAILURE_WINDOW_MS - 1500;
  assert.equal(windows.lockedFor("a"), 2);
  now += 1500;
  assert.equal(windows.lockedFor("a"), 0);
  assert.equal(windows.size, 0);
  const off = new FailureWindows(0);
  for (let i = 0; i < 5; i++) off.record("a");
  assert.equal(off.lockedFor("a"), 0);
});
