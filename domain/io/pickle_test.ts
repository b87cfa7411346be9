/**
 * The safe pickle VM on bytes CPython's pickle.dumps wrote (protocols 2 and 4, embedded as hex)
 * and on hand-assembled opcode sequences: values and memo identity as Python built them, the
 * four hooked opcodes routed to the hooks, refused opcodes named, and every bound enforced.
 * @module
 */

import assert from "node:assert/strict";
import { FormatError } from "../errors.ts";
import {
  PyDict,
  PyGlobal,
  PyList,
  PyOpaque,
  PyTuple,
  type PyValue,
  unpickle,
  type UnpickleHooks,
} from "./pickle.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g)!, (b) => parseInt(b, 16));
const op = (...parts: (number | string)[]) =>
  Uint8Array.from(
    parts.flatMap((p) => typeof p === "number" ? [p] : [...new TextEncoder().encode(p)]),
  );

/** Hooks that refuse everything (plain data needs none of them). */
const NONE: UnpickleHooks = {
  global: () => assert.fail("global called"),
  reduce: () => assert.fail("reduce called"),
  persistentLoad: () => assert.fail("persistentLoad called"),
  build: () => assert.fail("build called"),
};

/** A PyValue as plain JSON-like data: tuples become {tuple: [...]}. */
function plain(v: PyValue): unknown {
  if (v instanceof PyList) return v.items.map(plain);
  if (v instanceof PyTuple) return { tuple: v.items.map(plain) };
  if (v instanceof PyDict) return Object.fromEntries([...v.entries].map(([k, x]) => [k, plain(x)]));
  return v;
}

// pickle.dumps({'a': [1, 2.5, None, True, False], 'b': (1,), 'c': (1, 2), 'd': (1, 2, 3),
//   'e': (), 'n': -300, 'big': 2**40, 'neg': -2**40, 'u': 'héllo', 'i2': 40000, 'i4': -5}, p)
const PROTOCOL_2 = hex(
  "80027d71002858010000006171015d7102284b014740040000000000004e88896558010000006271034b01857104" +
    "58010000006371054b014b0286710658010000006471074b014b024b0387710858010000006571092958010000" +
    "006e710a4ad4feffff5803000000626967710b8a0600000000000158030000006e6567710c8a060000000000ff" +
    "580100000075710d580600000068c3a96c6c6f710e58020000006932710f4d409c5802000000693471104afbff" +
    "ffff752e",
);
const PROTOCOL_4 = hex(
  "80049582000000000000007d94288c0161945d94284b014740040000000000004e8889658c0162944b0185948c01" +
    "63944b014b0286948c0164944b014b024b0387948c016594298c016e944ad4feffff8c03626967948a060000" +
    "000000018c036e6567948a060000000000ff8c0175948c0668c3a96c6c6f948c026932944d409c8c02693494" +
    "4afbffffff752e",
);
const PYTHON_VALUE = {
  a: [1, 2.5, null, true, false],
  b: { tuple: [1] },
  c: { tuple: [1, 2] },
  d: { tuple: [1, 2, 3] },
  e: { tuple: [] },
  n: -300,
  big: 2 ** 40,
  neg: -(2 ** 40),
  u: "héllo",
  i2: 40000,
  i4: -5,
};

Deno.test("pickle: CPython's protocol 2 and 4 bytes build the same values Python had", () => {
  const two = unpickle(PROTOCOL_2, NONE);
  assert.ok(two instanceof PyDict);
  assert.deepEqual([...two.entries.keys()], Object.keys(PYTHON_VALUE), "insertion order kept");
  assert.deepEqual(plain(two), PYTHON_VALUE);
  assert.deepEqual(plain(unpickle(PROTOCOL_4, NONE)), PYTHON_VALUE);
});

Deno.test("pickle: the memo shares one object between its uses", () => {
  // x = [1]; pickle.dumps((x, x), protocol=4): MEMOIZE then BINGET 0.
  const pair = unpickle(hex("8004950a000000000000005d944b0161680086942e"), NONE);
  assert.ok(pair instanceof PyTuple && pair.items[0] instanceof PyList);
  assert.equal(pair.items[0], pair.items[1]);
  assert.deepEqual(plain(pair), { tuple: [[1], [1]] });
  // LONG_BINPUT 1000 / LONG_BINGET 1000.
  const long = unpickle(op(0x4b, 7, 0x72, 0xe8, 3, 0, 0, 0x6a, 0xe8, 3, 0, 0, 0x86, 0x2e), NONE);
  assert.deepEqual(plain(long), { tuple: [7, 7] });
});

Deno.test("pickle: GLOBAL, REDUCE, BINPERSID and BUILD go to the hooks, in order", () => {
  const calls: string[] = [];
  const hooks: UnpickleHooks = {
    global(module, name) {
      calls.push(`global ${module}.${name}`);
      return new PyGlobal(module, name);
    },
    reduce(callable, args) {
      calls.push(`reduce ${(callable as PyGlobal).name}(${args.items.length})`);
      return new PyDict();
    },
    persistentLoad(pid) {
      calls.push(`persistent ${plain(pid)}`);
      return new PyOpaque("storage", 42);
    },
    build(target, state) {
      calls.push(`build ${(target as PyOpaque).tag} ${plain(state)}`);
      return target;
    },
  };
  // pickle.dumps(collections.OrderedDict(a=1), protocol=2)
  const ordered = unpickle(
    hex(
      "800263636f6c6c656374696f6e730a4f726465726564446963740a71002952710158010000006171024b01732e",
    ),
    hooks,
  );
  assert.deepEqual(plain(ordered), { a: 1 });
  // STACK_GLOBAL "m" "n", then BINPERSID "k" and BUILD with state "s", in a tuple.
  const built = unpickle(
    op(0x8c, 1, "m", 0x8c, 1, "n", 0x93, 0x8c, 1, "k", 0x51, 0x8c, 1, "s", 0x62, 0x86, 0x2e),
    hooks,
  );
  assert.ok(built instanceof PyTuple && built.items[0] instanceof PyGlobal);
  assert.equal((built.items[1] as PyOpaque<number>).value, 42);
  assert.deepEqual(calls, [
    "global collections.OrderedDict",
    "reduce OrderedDict(0)",
    "global m.n",
    "persistent k",
    "build storage s",
  ]);
});

/** Assert `bytes` fail with a FormatError of `kind` whose message matches `message`. */
function fails(bytes: Uint8Array, kind: "malformed" | "invalid", message: RegExp, hooks = NONE) {
  assert.throws(
    () => unpickle(bytes, hooks),
    (e) => e instanceof FormatError && e.kind === kind && message.test(e.message),
    message.source,
  );
}

Deno.test("pickle: opcodes that could run code or are outside the subset are refused by name", () => {
  fails(
    op(0x80, 2, 0x69, "os\nsystem\n", 0x2e),
    "invalid",
    /opcode 0x69 \(INST\) at byte 2 is refused/,
  );
  fails(op(0x81), "invalid", /\(NEWOBJ\)/);
  fails(op(0x43, 1, 0x41, 0x2e), "invalid", /\(SHORT_BINBYTES\)/);
  fails(op(0x4c, "1L\n", 0x2e), "invalid", /\(LONG\)/);
  fails(op(0xfe), "invalid", /opcode 0xfe at byte 0 is refused/);
  fails(op(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x2e), "invalid", /integer of 9 bytes/);
  // Containers only take what Python could hash and only where Python allows.
  fails(op(0x7d, 0x29, 0x4e, 0x73, 0x2e), "invalid", /dict key that is not/);
  fails(op(0x5d, 0x4e, 0x4e, 0x73, 0x2e), "invalid", /SETITEM on a non-dict/);
  fails(op(0x7d, 0x4e, 0x61, 0x2e), "invalid", /APPEND to a non-list/);
});

Deno.test("pickle: malformed streams are FormatErrors saying what broke", () => {
  fails(op(0x80, 6, 0x4e, 0x2e), "malformed", /protocol 6 is unknown/);
  fails(op(0x4b), "malformed", /ends mid-opcode/);
  fails(op(0x4e), "malformed", /ends mid-opcode/); // no STOP
  fails(op(0x2e), "malformed", /stack underflow/);
  fails(op(0x4e, 0x4e, 0x2e), "malformed", /values left on the stack/);
  fails(op(0x28, 0x4e, 0x2e), "malformed", /values left on the stack/); // an open MARK
  fails(op(0x74, 0x2e), "malformed", /no MARK to pop to/);
  fails(op(0x68, 3, 0x2e), "malformed", /memo entry 3 read before it is written/);
  fails(op(0x8c, 2, 0xc3, 0x28, 0x2e), "malformed", /not valid UTF-8/);
  fails(op(0x8d, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x2e), "malformed", /length runs past/);
  fails(op(0x7d, 0x28, 0x4e, 0x75, 0x2e), "malformed", /odd number of items/);
  fails(op(0x29, 0x4e, 0x52, 0x2e), "malformed", /REDUCE arguments are not a tuple/);
  fails(op(0x4b, 1, 0x4b, 2, 0x93, 0x2e), "malformed", /STACK_GLOBAL operands are not strings/);
  fails(op(0x63, "x".repeat(300), 0x0a), "malformed", /GLOBAL operand missing or too long/);
});

Deno.test("pickle: stack, memo and MARK depth are bounded", () => {
  const marks = op(...Array(5).fill(0x28));
  assert.throws(() => unpickle(marks, NONE, { maxMarks: 4 }), /MARKs nested deeper than 4/);
  const nones = op(...Array(4).fill(0x4e));
  assert.throws(() => unpickle(nones, NONE, { maxStack: 3 }), /stack deeper than 3/);
  // APPENDS past the bound grows a list beyond maxStack.
  const list = op(0x5d, 0x28, 0x4e, 0x4e, 0x65, 0x28, 0x4e, 0x4e, 0x65, 0x2e);
  assert.throws(() => unpickle(list, NONE, { maxStack: 3 }), /a list longer than 3/);
  assert.deepEqual(plain(unpickle(list, NONE, { maxStack: 4 })), [null, null, null, null]);
  // Rewriting one memo index is not a new entry.
  const memo = op(0x4e, 0x71, 0, 0x71, 0, 0x94, 0x2e);
  assert.equal(unpickle(memo, NONE, { maxMemo: 2 }), null);
  assert.throws(() => unpickle(memo, NONE, { maxMemo: 1 }), /more than 1 memo entries/);
});
