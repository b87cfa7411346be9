/**
 * The kernel pool's control-block layout: header and slot words are distinct and inside their
 * regions, every slot starts on its own cache line and ends where the next begins, the error
 * message fills the slot's tail exactly, and the block size covers every slot.
 * @module
 */

import assert from "node:assert/strict";
import * as p from "./pool_protocol.ts";

const HEADER = [
  p.H_REMAINING,
  p.H_CANCEL,
  p.H_EXITED,
  p.H_STOP,
  p.H_THEN,
  p.H_STOPPED,
  p.H_THEN_RESULT,
];
const SLOT = [p.S_POSTED, p.S_DONE, p.S_JOB, p.S_STATUS, p.S_RESULT, p.S_MESSAGE_LENGTH];

Deno.test("pool protocol: header and slot words are distinct and inside their regions", () => {
  assert.equal(new Set(HEADER).size, HEADER.length);
  assert.ok(HEADER.every((w) => Number.isInteger(w) && w >= 0 && w < p.HEADER_WORDS));
  assert.equal(new Set(SLOT).size, SLOT.length);
  // Slot words end before the message bytes start.
  assert.ok(SLOT.every((w) => Number.isInteger(w) && w >= 0 && 4 * w + 4 <= p.S_MESSAGE_BYTE));
});

Deno.test("pool protocol: slots tile the block on whole cache lines", () => {
  assert.equal(p.HEADER_WORDS * 4, 64, "the header is one cache line");
  assert.equal(p.slotWord(0), p.HEADER_WORDS);
  for (let i = 0; i < 8; i++) {
    assert.equal((p.slotWord(i) * 4) % 64, 0, `slot ${i} starts a cache line`);
    assert.equal(p.slotWord(i + 1) - p.slotWord(i), p.SLOT_WORDS, "slots do not overlap");
    assert.equal(p.controlBytes(i), 4 * p.slotWord(i), `${i} workers: header + ${i} slots`);
  }
  assert.equal(p.controlBytes(3), 4 * (16 + 3 * 64));
});

Deno.test("pool protocol: the message fills the slot after its offset", () => {
  assert.equal(p.S_MESSAGE_BYTE % 4, 0);
  assert.equal(p.S_MESSAGE_BYTE + p.MESSAGE_BYTES, p.SLOT_WORDS * 4);
  assert.equal(p.MESSAGE_BYTES, 224);
  assert.ok(p.JOB_HANG < 0, "a control code is never a parameter-block address");
});
