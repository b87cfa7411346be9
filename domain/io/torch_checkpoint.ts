/**
 * Parsing a torch.save checkpoint (the zip format of torch >= 1.6) without running Python's
 * unpickler: `<root>/data.pkl` runs on the safe VM of pickle.ts with an allow-list of exactly
 * what a state dict needs (OrderedDict, `_rebuild_tensor_v2`, `_rebuild_parameter`, the typed
 * storage classes as persistent ids); every tensor view is checked to lie inside its storage.
 * Anything else (another global, a REDUCE of something else, `_load_from_bytes`, the legacy
 * non-zip format) is refused with a FormatError. No tensor data is read here.
 * @module
 */

import { type ByteSource, readInto, readRange } from "./byte_source.ts";
import { FormatError } from "../errors.ts";
import { PyDict, PyGlobal, PyOpaque, PyTuple, type PyValue, unpickle } from "./pickle.ts";
import { elementCount } from "../sae/tensor.ts";
import { openZipEntry, readZipDirectory, type ZipEntry } from "./zip.ts";

/** Largest data.pkl read (bytes). */
export const MAX_PICKLE_BYTES = 16 << 20;
/** Most distinct storages a checkpoint may reference. */
export const MAX_STORAGES = 10_000;
/** Deepest dict nesting flattened into dotted names. */
export const MAX_NESTING = 32;
/** Most elements one tensor may hold (2^31: well past the largest published SAE matrix). */
export const MAX_TENSOR_ELEMENTS = 2 ** 31;
/** DEFLATE cannot expand data more than this, so a storage claiming more is a lie (a bomb). */
const MAX_DEFLATE_RATIO = 1032;

/** Element types of torch storages. */
export type TorchDType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** The typed storage classes torch.save names in persistent ids, and their element types. */
const STORAGE_CLASSES: Record<string, TorchDType> = {
  FloatStorage: "float32",
  DoubleStorage: "float64",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
};

const ELEMENT_BYTES: Record<TorchDType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** The only globals a checkpoint may name. */
const ALLOWED_GLOBALS = new Set([
  "collections OrderedDict",
  "torch._utils _rebuild_tensor_v2",
  "torch._utils _rebuild_parameter",
  ...Object.keys(STORAGE_CLASSES).map((c) => `torch ${c}`),
]);

/** One storage: a member of the archive holding `numel` elements of `dtype`. */
export interface TorchStorage {
  readonly key: string;
  readonly dtype: TorchDType;
  readonly numel: number;
  readonly entry: ZipEntry;
}

/** A tensor as the pickle describes it: a strided view of a storage (element units). */
export interface TorchTensorRef {
  readonly dtype: TorchDType;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
  readonly offset: number;
  readonly storage: TorchStorage;
}

/** Plain values a checkpoint may hold beside its tensors. */
export type TorchValue = number | string | boolean;

/** A parsed checkpoint: tensor views and plain values by dotted name; no tensor data read yet. */
export interface TorchCheckpoint {
  readonly source: ByteSource;
  readonly littleEndian: boolean;
  readonly tensors: ReadonlyMap<string, TorchTensorRef>;
  readonly values: ReadonlyMap<string, TorchValue>;
}

/** Throw a FormatError about the checkpoint. */
export function fail(message: string): never {
  throw new FormatError("pt", message);
}

function refuse(message: string): never {
  throw new FormatError("pt", `${message} refused`, { kind: "invalid" });
}

function nonNegativeInt(v: PyValue, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    fail(`${what} is not a non-negative integer`);
  }
  return v;
}

function intTuple(v: PyValue, what: string): number[] {
  if (!(v instanceof PyTuple)) fail(`${what} is not a tuple`);
  if (v.items.length > 64) fail(`${what} has more than 64 dimensions`);
  return v.items.map((d) => nonNegativeInt(d, what));
}

function isEmptyDict(v: PyValue): boolean {
  return v instanceof PyDict && v.entries.size === 0;
}

/** The hooks that give torch's few globals their meaning, refusing every other. */
class TorchHooks {
  readonly storages = new Map<string, TorchStorage>();
  /** Elements the tensors built so far cover (bounded against the storages' total). */
  tensorElements = 0;
  storageElements = 0;

  constructor(readonly members: ReadonlyMap<string, ZipEntry>, readonly root: string) {}

  global(module: string, name: string): PyValue {
    if (!ALLOWED_GLOBALS.has(`${module} ${name}`)) refuse(`global ${module}.${name} is`);
    return new PyGlobal(module, name);
  }

  reduce(callable: PyValue, args: PyTuple): PyValue {
    if (!(callable instanceof PyGlobal)) refuse("REDUCE of a non-global is");
    const a = args.items;
    switch (`${callable.module} ${callable.name}`) {
      case "collections OrderedDict":
        if (a.length !== 0) refuse("OrderedDict with arguments is");
        return new PyDict();
      case "torch._utils _rebuild_tensor_v2":
        return this.#tensor(a);
      case "torch._utils _rebuild_parameter": {
        // (data, requires_grad, backward_hooks): a Parameter is its data for our purposes.
        if (a.length !== 3 || !(a[0] instanceof PyOpaque) || a[0].tag !== "tensor") {
          fail("_rebuild_parameter arguments are malformed");
        }
        if (typeof a[1] !== "boolean" || !isEmptyDict(a[2])) {
          refuse("a parameter with backward hooks is");
        }
        return a[0];
      }
      default:
        refuse(`calling ${callable.module}.${callable.name} is`);
    }
  }

  /** _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]). */
  #tensor(a: readonly PyValue[]): PyValue {
    if (a.length !== 6 && a.length !== 7) fail("_rebuild_tensor_v2 takes 6 or 7 arguments");
    const storage = a[0];
    if (!(storage instanceof PyOpaque) || storage.tag !== "storage") {
      fail("_rebuild_tensor_v2 without a storage");
    }
    const s = storage.value as TorchStorage;
    const offset = nonNegativeInt(a[1], "storage offset");
    const shape = intTuple(a[2], "tensor size");
    const stride = intTuple(a[3], "tensor stride");
    if (stride.length !== shape.length) fail("tensor size and stride differ in length");
    if (typeof a[4] !== "boolean") fail("requires_grad is not a bool");
    if (!isEmptyDict(a[5])) refuse("a tensor with backward hooks is");
    if (a.length === 7 && a[6] !== null && !isEmptyDict(a[6])) refuse("tensor metadata is");
    const count = elementCount(shape);
    if (count > 0) {
      let last = offset;
      for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * stride[d];
      if (!Number.isSafeInteger(last) || last >= s.numel) {
        fail(`a tensor reaches element ${last} of a ${s.numel}-element storage`);
      }
    }
    // A view may not hold more elements than its storage, and all views together only a few
    // times the stored total: a tiny file must not expand into an enormous allocation.
    if (count > Math.max(s.numel, 1)) {
      fail(`a tensor of ${count} elements views a ${s.numel}-element storage`);
    }
    if (count > MAX_TENSOR_ELEMENTS) fail(`a tensor of ${count} elements is over the limit`);
    this.tensorElements += count;
    if (this.tensorElements > 4 * this.storageElements + 65536) {
      fail("tensors view their storages many times over");
    }
    const ref: TorchTensorRef = { dtype: s.dtype, shape, stride, offset, storage: s };
    return new PyOpaque("tensor", ref);
  }

  /** ('storage', storage_class, key, location, numel) */
  persistentLoad(pid: PyValue): PyValue {
    if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== "storage") {
      refuse("a persistent id other than ('storage', type, key, location, numel) is");
    }
    const [, type, key, location, numelValue] = pid.items;
    if (
      !(type instanceof PyGlobal) || type.module !== "torch" ||
      !Object.hasOwn(STORAGE_CLASSES, type.name)
    ) {
      refuse("a storage of an unknown type is");
    }
    if (typeof key !== "string" || typeof location !== "string") {
      fail("a storage key or location is not a string");
    }
    const dtype = STORAGE_CLASSES[type.name];
    const numel = nonNegativeInt(numelValue, "storage numel");
    const known = this.storages.get(key);
    if (known) {
      if (known.dtype !== dtype || known.numel !== numel) {
        fail(`storage ${key} is described two different ways`);
      }
      return new PyOpaque("storage", known);
    }
    if (this.storages.size >= MAX_STORAGES) fail(`more than ${MAX_STORAGES} storages`);
    const entry = this.members.get(`${this.root}/data/${key}`);
    if (!entry) fail(`storage ${JSON.stringify(key)} has no data/${key} member`);
    if (numel * ELEMENT_BYTES[dtype] !== entry.uncompressedSize) {
      fail(
        `storage ${key}: ${numel} ${dtype} elements need ${
          numel * ELEMENT_BYTES[dtype]
        } bytes; its member holds ${entry.uncompressedSize}`,
      );
    }
    if (entry.method !== 0 && entry.uncompressedSize > MAX_DEFLATE_RATIO * entry.compressedSize) {
      fail(`storage ${key} claims more bytes than its compressed member can hold`);
    }
    const storage: TorchStorage = { key, dtype, numel, entry };
    this.storages.set(key, storage);
    this.storageElements += numel;
    return new PyOpaque("storage", storage);
  }

  build(target: PyValue, state: PyValue): PyValue {
    // OrderedDict.__reduce__ carries its instance attributes (a state dict's `_metadata`):
    // they are version notes, dropped here.
    if (target instanceof PyDict && state instanceof PyDict) return target;
    if (
      target instanceof PyOpaque && target.tag === "tensor" &&
      (state === null || isEmptyDict(state) ||
        (state instanceof PyTuple && state.items.length === 0))
    ) {
      return target;
    }
    refuse("BUILD with state on this object is");
  }
}

/** Read one whole archive member. */
export async function readMember(source: ByteSource, entry: ZipEntry): Promise<Uint8Array> {
  return await readInto(await openZipEntry(source, entry), new Uint8Array(entry.uncompressedSize));
}

/** The archive's root folder: the one `<root>/data.pkl` member. */
function findRoot(entries: readonly ZipEntry[]): string {
  const pickles = entries.filter((e) => e.name === "data.pkl" || e.name.endsWith("/data.pkl"));
  if (pickles.length !== 1) {
    fail(`${pickles.length} data.pkl members; a torch.save archive has exactly one`);
  }
  const root = pickles[0].name.slice(0, -"/data.pkl".length);
  if (root === "" || root.includes("/")) fail("data.pkl is not at <root>/data.pkl");
  return root;
}

async function directory(source: ByteSource): Promise<ZipEntry[]> {
  try {
    return await readZipDirectory(source);
  } catch (e) {
    let head: Uint8Array = new Uint8Array(0);
    try {
      head = await readRange(source, { offset: 0, length: Math.min(2, source.size) });
    } catch {
      // unreadable: report the zip error
    }
    if (head[0] === 0x80) {
      throw new FormatError(
        "pt",
        "legacy (pre-1.6, non-zip) torch serialization is not read; re-save with torch.save",
        { kind: "invalid" },
      );
    }
    throw e;
  }
}

/** Flatten nested dicts into dotted names: tensors and plain values; other values are dropped. */
function flatten(
  dict: PyDict,
  prefix: string,
  out: { tensors: Map<string, TorchTensorRef>; values: Map<string, TorchValue> },
  depth: number,
): void {
  if (depth > MAX_NESTING) fail(`dicts nested deeper than ${MAX_NESTING}`);
  for (const [key, value] of dict.entries) {
    const name = prefix + String(key);
    if (value instanceof PyOpaque && value.tag === "tensor") {
      out.tensors.set(name, value.value as TorchTensorRef);
    } else if (value instanceof PyDict) {
      flatten(value, name + ".", out, depth + 1);
    } else if (
      typeof value === "number" || typeof value === "string" || typeof value === "boolean"
    ) {
      out.values.set(name, value);
    }
  }
}

/**
 * Parse a torch.save archive: the zip directory, `byteorder`, and data.pkl on the safe VM.
 * The top-level object must be a dict (a state dict, possibly nested). Reads no tensor data.
 */
export async function readTorchCheckpoint(source: ByteSource): Promise<TorchCheckpoint> {
  const entries = await directory(source);
  const members = new Map(entries.map((e) => [e.name, e]));
  const root = findRoot(entries);
  const pkl = members.get(`${root}/data.pkl`)!;
  if (pkl.uncompressedSize > MAX_PICKLE_BYTES) {
    fail(`data.pkl of ${pkl.uncompressedSize} bytes is over the limit of ${MAX_PICKLE_BYTES}`);
  }
  let littleEndian = true;
  const order = members.get(`${root}/byteorder`);
  if (order) {
    if (order.uncompressedSize > 16) fail("byteorder member is too large");
    const text = new TextDecoder().decode(await readMember(source, order)).trim();
    if (text !== "little" && text !== "big") fail(`byteorder ${JSON.stringify(text)}`);
    littleEndian = text === "little";
  }
  const hooks = new TorchHooks(members, root);
  const result = unpickle(await readMember(source, pkl), hooks);
  if (!(result instanceof PyDict)) fail("the checkpoint is not a dict (state dict)");
  const out = { tensors: new Map<string, TorchTensorRef>(), values: new Map<string, TorchValue>() };
  flatten(result, "", out, 0);
  return { source, littleEndian, ...out };
}
