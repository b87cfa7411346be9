/**
 * A minimal, safe pickle reader: the opcode subset torch.save writes (protocol 2, plus the
 * protocol-4 MEMOIZE / STACK_GLOBAL / SHORT_BINUNICODE / BINUNICODE8 / FRAME), run on a small
 * stack machine that never imports or calls anything. GLOBAL, REDUCE, BINPERSID and BUILD are
 * handed to the caller's {@link UnpickleHooks}, which allow-list what they accept; every other
 * opcode (INST, OBJ, NEWOBJ, EXT*, byte strings, ...) is refused. Stack, memo and MARK depth
 * are bounded.
 * @module
 */

import { FormatError } from "../errors.ts";
import { PyDict, type PyKey, PyList, PyTuple, type PyValue } from "./py_value.ts";

export {
  PyDict,
  PyGlobal,
  type PyKey,
  PyList,
  PyOpaque,
  PyTuple,
  type PyValue,
} from "./py_value.ts";

/** The caller's policy for the four opcodes that could otherwise run code. Throw to refuse. */
export interface UnpickleHooks {
  /** GLOBAL / STACK_GLOBAL `module name`: return a value (usually a PyGlobal) or throw. */
  global(module: string, name: string): PyValue;
  /** REDUCE: call `callable` (from `global`) with `args`. */
  reduce(callable: PyValue, args: PyTuple): PyValue;
  /** BINPERSID: resolve a persistent id. */
  persistentLoad(pid: PyValue): PyValue;
  /** BUILD: apply `state` to `target`, returning the result. */
  build(target: PyValue, state: PyValue): PyValue;
}

/** Bounds of {@link unpickle}. */
export interface UnpickleLimits {
  /** Most values on the stack at once (default 100000). */
  readonly maxStack?: number;
  /** Most memo entries (default 100000). */
  readonly maxMemo?: number;
  /** Deepest MARK nesting (default 1000). */
  readonly maxMarks?: number;
}

/** Names of opcodes refused, for messages (the ones that import or call are here). */
const REFUSED_NAMES: Record<number, string> = {
  0x69: "INST",
  0x6f: "OBJ",
  0x81: "NEWOBJ",
  0x92: "NEWOBJ_EX",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x50: "PERSID",
  0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES",
  0x8e: "BINBYTES8",
  0x96: "BYTEARRAY8",
  0x54: "BINSTRING",
  0x55: "SHORT_BINSTRING",
  0x53: "STRING",
  0x56: "UNICODE",
  0x49: "INT",
  0x4c: "LONG",
  0x46: "FLOAT",
  0x8b: "LONG4",
  0x6c: "LIST",
  0x64: "DICT",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x70: "PUT",
  0x67: "GET",
  0x30: "POP",
  0x31: "POP_MARK",
  0x32: "DUP",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

function fail(message: string): never {
  throw new FormatError("pt", message);
}

function refuse(message: string): never {
  throw new FormatError("pt", `${message} refused`, { kind: "invalid" });
}

function isKey(v: PyValue): v is PyKey {
  return v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

/** A little cursor over the pickle bytes; every read is bounds-checked. */
class Reader {
  #at = 0;
  readonly #view: DataView;
  readonly #utf8 = new TextDecoder("utf-8", { fatal: true });

  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get at(): number {
    return this.#at;
  }

  #take(n: number): number {
    if (n < 0 || this.#at + n > this.bytes.byteLength) fail("pickle ends mid-opcode");
    const at = this.#at;
    this.#at += n;
    return at;
  }

  u8(): number {
    return this.#view.getUint8(this.#take(1));
  }
  u16(): number {
    return this.#view.getUint16(this.#take(2), true);
  }
  i32(): number {
    return this.#view.getInt32(this.#take(4), true);
  }
  u32(): number {
    return this.#view.getUint32(this.#take(4), true);
  }
  u64(): number {
    const v = this.#view.getBigUint64(this.#take(8), true);
    if (v > BigInt(this.bytes.byteLength)) fail("a length runs past the pickle");
    return Number(v);
  }
  f64be(): number {
    return this.#view.getFloat64(this.#take(8), false);
  }
  /** Little-endian two's-complement integer of `n` bytes (LONG1), at most 8. */
  long(n: number): number {
    if (n > 8) refuse(`an integer of ${n} bytes is`);
    const at = this.#take(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.bytes[at + i]);
    if (n > 0 && this.bytes[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    // Beyond 2^53 the value is approximate; shape checks downstream reject it.
    return Number(v);
  }
  utf8(n: number): string {
    const at = this.#take(n);
    try {
      return this.#utf8.decode(this.bytes.subarray(at, at + n));
    } catch {
      fail("a string is not valid UTF-8");
    }
  }
  /** A newline-terminated ASCII line (GLOBAL's operands), at most 256 bytes. */
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.#at);
    if (end < 0 || end - this.#at > 256) fail("GLOBAL operand missing or too long");
    const s = this.utf8(end - this.#at);
    this.#at++;
    return s;
  }
}

/**
 * Run a pickle and return the value it builds. Unknown or code-running opcodes, and anything
 * the hooks refuse, throw a FormatError ("... refused"); truncation and bound violations throw
 * one too. Nothing is ever imported or executed.
 */
export function unpickle(
  bytes: Uint8Array,
  hooks: UnpickleHooks,
  options?: UnpickleLimits,
): PyValue {
  const maxStack = options?.maxStack ?? 100_000;
  const maxMemo = options?.maxMemo ?? 100_000;
  const maxMarks = options?.maxMarks ?? 1000;
  const r = new Reader(bytes);
  let stack: PyValue[] = [];
  const marks: PyValue[][] = [];
  const memo = new Map<number, PyValue>();

  const push = (v: PyValue): void => {
    if (stack.length >= maxStack) fail(`stack deeper than ${maxStack}`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length === 0) fail("stack underflow");
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length === 0) fail("stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    const items = stack;
    const outer = marks.pop();
    if (!outer) fail("no MARK to pop to");
    stack = outer;
    return items;
  };
  const put = (index: number): void => {
    if (!memo.has(index) && memo.size >= maxMemo) fail(`more than ${maxMemo} memo entries`);
    memo.set(index, top());
  };
  const get = (index: number): PyValue => {
    if (!memo.has(index)) fail(`memo entry ${index} read before it is written`);
    return memo.get(index)!;
  };
  const setItems = (target: PyValue, items: PyValue[]): void => {
    if (!(target instanceof PyDict)) refuse("SETITEM on a non-dict is");
    if (items.length % 2 !== 0) fail("SETITEMS with an odd number of items");
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      if (!isKey(key)) refuse("a dict key that is not a string, number, bool or None is");
      target.entries.set(key, items[i + 1]);
    }
  };
  const appendItems = (target: PyValue, items: PyValue[]): void => {
    if (!(target instanceof PyList)) refuse("APPEND to a non-list is");
    if (target.items.length + items.length > maxStack) fail(`a list longer than ${maxStack}`);
    target.items.push(...items);
  };

  while (true) {
    const op = r.u8();
    switch (op) {
      case 0x80: { // PROTO
        const proto = r.u8();
        if (proto > 5) fail(`pickle protocol ${proto} is unknown`);
        break;
      }
      case 0x95: // FRAME: a length hint only
        r.u64();
        break;
      case 0x7d: // EMPTY_DICT
        push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST
        push(new PyList());
        break;
      case 0x29: // EMPTY_TUPLE
        push(new PyTuple([]));
        break;
      case 0x28: // MARK
        if (marks.length >= maxMarks) fail(`MARKs nested deeper than ${maxMarks}`);
        marks.push(stack);
        stack = [];
        break;
      case 0x58: // BINUNICODE
        push(r.utf8(r.u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(r.utf8(r.u8()));
        break;
      case 0x8d: // BINUNICODE8
        push(r.utf8(r.u64()));
        break;
      case 0x71: // BINPUT
        put(r.u8());
        break;
      case 0x72: // LONG_BINPUT
        put(r.u32());
        break;
      case 0x94: // MEMOIZE
        put(memo.size);
        break;
      case 0x68: // BINGET
        push(get(r.u8()));
        break;
      case 0x6a: // LONG_BINGET
        push(get(r.u32()));
        break;
      case 0x4a: // BININT
        push(r.i32());
        break;
      case 0x4b: // BININT1
        push(r.u8());
        break;
      case 0x4d: // BININT2
        push(r.u16());
        break;
      case 0x8a: // LONG1
        push(r.long(r.u8()));
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x47: // BINFLOAT
        push(r.f64be());
        break;
      case 0x74: // TUPLE
        push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
        push(new PyTuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        push(new PyTuple([pop(), b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        push(new PyTuple([pop(), b, c]));
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: { // APPEND
        const value = pop();
        appendItems(top(), [value]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x63: { // GLOBAL
        const module = r.line();
        push(hooks.global(module, r.line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          fail("STACK_GLOBAL operands are not strings");
        }
        push(hooks.global(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        if (!(args instanceof PyTuple)) fail("REDUCE arguments are not a tuple");
        push(hooks.reduce(callable, args));
        break;
      }
      case 0x51: // BINPERSID
        push(hooks.persistentLoad(pop()));
        break;
      case 0x62: { // BUILD
        const state = pop();
        push(hooks.build(pop(), state));
        break;
      }
      case 0x2e: { // STOP
        const result = pop();
        if (stack.length !== 0 || marks.length !== 0) fail("values left on the stack at STOP");
        if (r.at !== bytes.byteLength) fail("bytes after STOP");
        return result;
      }
      default:
        refuse(
          `opcode 0x${op.toString(16).padStart(2, "0")}${
            REFUSED_NAMES[op] ? ` (${REFUSED_NAMES[op]})` : ""
          } at byte ${r.at - 1} is`,
        );
    }
  }
}
