import assert from "node:assert/strict";
import { LineWriter } from "./line_writer.ts";

/** A writer that records each write as text. */
function recorder(): { writes: string[]; write: (bytes: Uint8Array) => void } {
  const writes: string[] = [];
  return { writes, write: (bytes) => void writes.push(new TextDecoder().decode(bytes)) };
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("LineWriter writes the lines of a turn together, after it", async () => {
  const out = recorder();
  const w = new LineWriter({ write: out.write, delayMs: 0 });
  w.line('{"a":1}');
  w.line('{"b":2}');
  assert.deepEqual(out.writes, [], "nothing is written during the turn");
  await turn();
  assert.deepEqual(out.writes, ['{"a":1}\n{"b":2}\n']);
  w.line("c");
  await turn();
  assert.deepEqual(out.writes, ['{"a":1}\n{"b":2}\n', "c\n"]);
  await turn();
  assert.equal(out.writes.length, 2, "no empty writes");
});

Deno.test("LineWriter flushes at once past its queue limit, and on flush()", async () => {
  const out = recorder();
  const w = new LineWriter({ write: out.write, maxQueued: 10 });
  w.line("12345");
  assert.equal(out.writes.length, 0);
  w.line("67890");
  assert.deepEqual(out.writes, ["12345\n67890\n"], "12 queued characters pass the limit of 10");
  w.line("x");
  w.flush();
  assert.deepEqual(out.writes, ["12345\n67890\n", "x\n"]);
  await turn();
  assert.equal(out.writes.length, 2, "the pending timer was cleared");
});

Deno.test("LineWriter by default gathers the lines of 50 ms in one write", async () => {
  const out = recorder();
  const w = new LineWriter({ write: out.write });
  w.line("a");
  await turn();
  w.line("b");
  await turn();
  assert.deepEqual(out.writes, [], "two turns later nothing is written yet");
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(out.writes, ["a\nb\n"], "one write after the delay");
  w.line("c");
  w.flush();
  assert.deepEqual(out.writes, ["a\nb\n", "c\n"], "flush() does not wait");
});
