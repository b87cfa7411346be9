/**
 * Tensors of torch.save checkpoints (the zip format of torch >= 1.6): the archive is parsed
 * on a safe pickle VM by torch_checkpoint.ts (re-exported here), and tensors are cut from
 * `<root>/data/<key>` storages by (offset, size, stride) as f32 in C order, streaming a
 * whole contiguous float storage straight into the output.
 * @module
 */

import { bf16ToF32, type DType, f16ToF32, streamToF32 } from "./dtype.ts";
import { elementCount, type Tensor } from "../sae/tensor.ts";
import { openZipEntry } from "./zip.ts";
import type { ByteSource } from "./byte_source.ts";
import {
  fail,
  readMember,
  readTorchCheckpoint,
  type TorchCheckpoint,
  type TorchDType,
  type TorchTensorRef,
  type TorchValue,
} from "./torch_checkpoint.ts";

export {
  MAX_NESTING,
  MAX_PICKLE_BYTES,
  MAX_STORAGES,
  MAX_TENSOR_ELEMENTS,
  readTorchCheckpoint,
  type TorchCheckpoint,
  type TorchDType,
  type TorchStorage,
  type TorchTensorRef,
  type TorchValue,
} from "./torch_checkpoint.ts";

const FLOAT_DTYPES: Partial<Record<TorchDType, DType>> = {
  float32: "F32",
  float64: "F64",
  float16: "F16",
  bfloat16: "BF16",
};

/** A loaded tensor: f32 values in C order, with the dtype it was stored in. */
export interface TorchTensor extends Tensor {
  readonly dtype: TorchDType;
}

/** Whether a view walks its storage in C order from `offset` (size-1 dims' strides ignored). */
function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

/** Read one element of `dtype` at element index `i`. */
function element(view: DataView, dtype: TorchDType, i: number, le: boolean): number {
  switch (dtype) {
    case "float32":
      return view.getFloat32(i * 4, le);
    case "float64":
      return view.getFloat64(i * 8, le);
    case "float16":
      return f16ToF32(view.getUint16(i * 2, le));
    case "bfloat16":
      return bf16ToF32(view.getUint16(i * 2, le));
    case "int64":
      return Number(view.getBigInt64(i * 8, le));
    case "int32":
      return view.getInt32(i * 4, le);
    case "int16":
      return view.getInt16(i * 2, le);
    case "int8":
      return view.getInt8(i);
    case "uint8":
      return view.getUint8(i);
    case "bool":
      return view.getUint8(i) ? 1 : 0;
  }
}

/** Copy a strided view out of storage bytes into C order (bounds were checked at parse). */
function gather(bytes: Uint8Array, ref: TorchTensorRef, le: boolean, out: Float32Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { shape, stride, offset, dtype } = ref;
  if (out.length === 0) return;
  const rank = shape.length;
  if (rank === 0) {
    out[0] = element(view, dtype, offset, le);
    return;
  }
  const index = new Array<number>(rank).fill(0);
  const inner = shape[rank - 1];
  const step = stride[rank - 1];
  let base = offset;
  for (let o = 0; o < out.length; o += inner) {
    for (let j = 0; j < inner; j++) out[o + j] = element(view, dtype, base + j * step, le);
    // Advance the odometer over the outer dimensions.
    for (let d = rank - 2; d >= 0; d--) {
      index[d]++;
      base += stride[d];
      if (index[d] < shape[d]) break;
      base -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
}

/** Options of {@link loadTorchTensor}. */
export interface LoadTorchTensorOptions {
  /** Load a 2-D tensor transposed (nn.Linear's [out, in] weight as [in, out]). */
  readonly transpose?: boolean;
  /** Where the values go (length = element count); a new array when absent. */
  readonly alloc?: (length: number) => Float32Array;
}

/**
 * Load one tensor of a parsed checkpoint as f32 in C order. A view covering its whole storage
 * in C order (or, transposed, in Fortran order) streams straight into the output; any other
 * view reads its storage and copies element by element.
 */
export async function loadTorchTensor(
  checkpoint: TorchCheckpoint,
  name: string,
  options?: LoadTorchTensorOptions,
): Promise<TorchTensor> {
  let ref = checkpoint.tensors.get(name);
  if (!ref) fail(`missing tensor ${name}`);
  if (options?.transpose) {
    if (ref.shape.length !== 2) fail(`${name} is not 2-D, so it cannot be transposed`);
    ref = { ...ref, shape: [ref.shape[1], ref.shape[0]], stride: [ref.stride[1], ref.stride[0]] };
  }
  const { shape, stride, storage, dtype } = ref;
  const count = elementCount(shape);
  const out = count > 0 && options?.alloc ? options.alloc(count) : new Float32Array(count);
  if (out.length !== count) throw new RangeError(`alloc gave ${out.length} of ${count} values`);
  const floatType = FLOAT_DTYPES[dtype];
  const whole = ref.offset === 0 && count === storage.numel && count > 0;
  const fortran = shape.length === 2 && stride[0] === 1 && stride[1] === shape[0];
  if (floatType && whole && (isContiguous(shape, stride) || fortran)) {
    await streamToF32(await openZipEntry(checkpoint.source, storage.entry), {
      dtype: floatType,
      littleEndian: checkpoint.littleEndian,
      count,
      fortran: isContiguous(shape, stride) ? undefined : { rows: shape[0], cols: shape[1] },
      out,
    });
  } else if (count > 0) {
    gather(await readMember(checkpoint.source, storage.entry), ref, checkpoint.littleEndian, out);
  }
  return { shape, data: out, dtype };
}

/** `names` sorted by where their storages lie in the file, for one front-to-back pass. */
export function inFileOrder(checkpoint: TorchCheckpoint, names: readonly string[]): string[] {
  for (const n of names) if (!checkpoint.tensors.has(n)) fail(`missing tensor ${n}`);
  const at = (n: string) => checkpoint.tensors.get(n)!.storage.entry.localHeaderOffset;
  return [...names].sort((a, b) => at(a) - at(b));
}

/** Parse a checkpoint and load every tensor: a state dict as f32 tensors plus plain values. */
export async function readTorchStateDict(
  source: ByteSource,
): Promise<{ tensors: Map<string, TorchTensor>; values: ReadonlyMap<string, TorchValue> }> {
  const checkpoint = await readTorchCheckpoint(source);
  const loaded = new Map<string, TorchTensor>();
  for (const name of inFileOrder(checkpoint, [...checkpoint.tensors.keys()])) {
    loaded.set(name, await loadTorchTensor(checkpoint, name));
  }
  // Hand them back in the state dict's own order.
  const tensors = new Map([...checkpoint.tensors.keys()].map((n) => [n, loaded.get(n)!]));
  return { tensors, values: checkpoint.values };
}
