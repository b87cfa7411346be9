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
  const queue = new RoundQueue();
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
