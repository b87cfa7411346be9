/**
 * The values the safe pickle VM (pickle.ts) builds: Python's containers and a module-level
 * name, plus an opaque slot for what the caller's hooks build (a tensor, a storage).
 * @module
 */

/** A module-level name as GLOBAL names it; only the hooks give it meaning. */
export class PyGlobal {
  /** A reference to `module.name` (never resolved to code). */
  constructor(readonly module: string, readonly name: string) {}
}

/** A Python tuple. */
export class PyTuple {
  /** Wrap the tuple's items. */
  constructor(readonly items: readonly PyValue[]) {}
}

/** A Python list. */
export class PyList {
  /** The list's items, appended to by APPEND / APPENDS. */
  readonly items: PyValue[] = [];
}

/** Keys a {@link PyDict} accepts (hashable primitives). */
export type PyKey = string | number | boolean | null;

/** A Python dict (or OrderedDict): insertion-ordered entries. */
export class PyDict {
  /** The entries, in insertion order. */
  readonly entries: Map<PyKey, PyValue> = new Map();
}

/** A value the hooks build (a tensor, a storage); the VM only moves it around. */
export class PyOpaque<T = unknown> {
  /** Wrap `value`, labelled `tag` for error messages. */
  constructor(readonly tag: string, readonly value: T) {}
}

/** Every value the VM can hold. */
export type PyValue =
  | null
  | boolean
  | number
  | string
  | PyTuple
  | PyList
  | PyDict
  | PyGlobal
  | PyOpaque;
