/**
 * Registry keys: a head, a dictionary and an aligned dictionary in one folder never share a
 * key, and ids holding ":" cannot make two keys collide.
 * @module
 */

import assert from "node:assert/strict";
import { type EntryKey, type EntryKind, keyOf } from "./entry.ts";

Deno.test("entry: keyOf is kind:id", () => {
  assert.equal(keyOf({ kind: "dictionary", id: "gpt2/l5" }), "dictionary:gpt2/l5");
  assert.equal(keyOf({ kind: "head", id: "" }), "head:");
});

Deno.test("entry: distinct keys never share a string, whatever the ids hold", () => {
  const kinds: EntryKind[] = ["dictionary", "head", "aligned"];
  const ids = ["a", "a:b", "b", "head:a", "dictionary", ":", "", "aligned:a:b"];
  const keys: EntryKey[] = kinds.flatMap((kind) => ids.map((id) => ({ kind, id })));
  const strings = new Map<string, EntryKey>();
  for (const key of keys) {
    const s = keyOf(key);
    assert.ok(!strings.has(s), `${JSON.stringify(key)} and ${JSON.stringify(strings.get(s))}`);
    strings.set(s, key);
    // The kind is everything before the first ":" and the id everything after.
    const at = s.indexOf(":");
    assert.deepEqual({ kind: s.slice(0, at), id: s.slice(at + 1) }, key);
  }
});
