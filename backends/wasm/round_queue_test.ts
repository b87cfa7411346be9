import assert from "node:assert/strict";
import { RoundQueue } from "./round_queue.ts";

/** Record the order in which turns are granted. */
function recorder(queue: RoundQueue) {
  const order: string[] = [];
  const take = (name: string, priority: "live" | "research", signal?: AbortSignal) =>
    queue.acquire(priority, signal).then(() => {
      order.push(name);
      queue.release();
    });
  return { order, take };
}

Deno.test("the first turn is immediate; waiting live turns go before research, FIFO in a class", async () => {
  const queue = new RoundQueue({ liveTurns: 0 });
  await queue.acquire("research");
  const { order, take } = recorder(queue);
  const all = [
    take("r1", "research"),
    take("l1", "live"),
    take("r2", "research"),
    take("l2", "live"),
  ];
  assert.deepEqual(queue.waiting, { live: 2, research: 2 });
  queue.release();
  await Promise.all(all);
  assert.deepEqual(order, ["l1", "l2", "r1", "r2"]);
  assert.deepEqual(queue.waiting, { live: 0, research: 0 });
});

Deno.test("an aborted waiter leaves the line with the signal's reason", async () => {
  const queue = new RoundQueue();
  await queue.acquire();
  const controller = new AbortController();
  const waiting = queue.acquire("live", controller.signal);
  controller.abort(new Error("client gone"));
  await assert.rejects(waiting, /client gone/);
  assert.deepEqual(queue.waiting, { live: 0, research: 0 });
  await assert.rejects(queue.acquire("live", controller.signal), /client gone/);
  queue.release();
  await queue.acquire("research"); // free again: granted at once
  queue.release();
});

Deno.test("rejectAll fails every waiting turn", async () => {
  const queue = new RoundQueue();
  await queue.acquire();
  const a = queue.acquire("live");
  const b = queue.acquire("research");
  queue.rejectAll(() => new Error("closing"));
  await assert.rejects(a, /closing/);
  await assert.rejects(b, /closing/);
  queue.release();
});

Deno.test("a stream of live turns lets a waiting research turn through after liveTurns in a row", async () => {
  for (const liveTurns of [1, 4]) {
    const queue = new RoundQueue({ liveTurns });
    await queue.acquire("live");
    const { order, take } = recorder(queue);
    const all = [take("r1", "research"), take("r2", "research")];
    for (let i = 1; i <= 12; i++) all.push(take(`l${i}`, "live"));
    queue.release();
    await Promise.all(all);
    const at = (name: string) => order.indexOf(name);
    // Research goes after every `liveTurns` live turns, live order kept.
    assert.equal(at("r1"), liveTurns, `${liveTurns}: ${order}`);
    assert.equal(at("r2"), 2 * liveTurns + 1, `${liveTurns}: ${order}`);
    assert.deepEqual(
      order.filter((n) => n.startsWith("l")),
      order.filter((n) => n[0] === "l").sort(
        (a, b) => Number(a.slice(1)) - Number(b.slice(1)),
      ),
    );
  }
  // 0: research only once no live turn waits.
  const strict = new RoundQueue({ liveTurns: 0 });
  await strict.acquire("live");
  const { order, take } = recorder(strict);
  const all = [
    take("r", "research"),
    ...Array.from({ length: 9 }, (_, i) => take(`l${i}`, "live")),
  ];
  strict.release();
  await Promise.all(all);
  assert.equal(order.at(-1), "r");
});
