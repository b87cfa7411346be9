/**
 * The pickle VM's values: containers start empty and never share storage, dict keys follow
 * Python's distinctions the VM relies on (1 and "1" differ; insertion order kept), and the
 * wrappers hold exactly what they were given.
 * @module
 */

import assert from "node:assert/strict";
import { PyDict, PyGlobal, PyList, PyOpaque, PyTuple } from "./py_value.ts";

Deno.test("py_value: each list and dict starts empty with its own storage", () => {
  const a = new PyList();
  const b = new PyList();
  a.items.push(1, "x");
  assert.deepEqual(a.items, [1, "x"]);
  assert.deepEqual(b.items, [], "a second list shares nothing with the first");
  const d = new PyDict();
  d.entries.set("k", 1);
  assert.equal(new PyDict().entries.size, 0);
  assert.equal(d.entries.get("k"), 1);
});

Deno.test("py_value: dict keys keep insertion order and distinguish 1, '1', true and null", () => {
  const d = new PyDict();
  for (const key of ["z", 1, "1", true, null, "a"]) d.entries.set(key, String(key));
  d.entries.set("z", "again"); // overwriting keeps the first position, as a Python dict does
  assert.deepEqual([...d.entries.keys()], ["z", 1, "1", true, null, "a"]);
  assert.equal(d.entries.get("z"), "again");
  assert.equal(d.entries.get(1), "1");
  assert.equal(d.entries.get(true), "true");
});

Deno.test("py_value: tuples, globals and opaque values hold what they were built with", () => {
  const items = [1, null, "s"] as const;
  const t = new PyTuple(items);
  assert.deepEqual(t.items, [1, null, "s"]);
  const nested = new PyTuple([t, new PyList()]);
  assert.equal(nested.items[0], t, "nesting keeps identity");
  const g = new PyGlobal("torch._utils", "_rebuild_tensor_v2");
  assert.deepEqual([g.module, g.name], ["torch._utils", "_rebuild_tensor_v2"]);
  const payload = { numel: 3 };
  const o = new PyOpaque("storage", payload);
  assert.equal(o.tag, "storage");
  assert.equal(o.value, payload, "the hooks get their own object back, not a copy");
});
