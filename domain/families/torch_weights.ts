/**
 * Checked access to a parsed torch checkpoint for the .pt loaders (saev, dictionary_learning):
 * shapes read from the pickle before any data, matrices streamed into their final (optionally
 * transposed) layout, finite values, tensors loaded in file order.
 * @module
 */

import { FormatError } from "../errors.ts";
import { type Matrix, matrix } from "../sae/matrix.ts";
import {
  inFileOrder,
  loadTorchTensor,
  type TorchCheckpoint,
  type TorchTensorRef,
} from "../io/torch_pickle.ts";
import { asVector, expectFinite } from "./tensors.ts";

/** The view of tensor `name`, or a FormatError naming `file`. */
export function torchRef(
  checkpoint: TorchCheckpoint,
  name: string,
  options: { file: string },
): TorchTensorRef {
  const ref = checkpoint.tensors.get(name);
  if (!ref) throw new FormatError(options.file, `missing tensor ${name}`);
  return ref;
}

/** Throw unless tensor `name` has exactly `shape` (checked before loading). */
export function expectTorchShape(
  checkpoint: TorchCheckpoint,
  name: string,
  options: { shape: readonly number[]; file: string },
): void {
  const { shape } = torchRef(checkpoint, name, options);
  if (shape.length !== options.shape.length || shape.some((d, i) => d !== options.shape[i])) {
    throw new FormatError(
      options.file,
      `${name} has shape [${shape}] where [${options.shape}] was expected`,
    );
  }
}

/**
 * Load a [rows, cols] matrix; with `transpose` the stored tensor is [cols, rows] (nn.Linear's
 * weight) and lands transposed. The stored shape is checked before any data is read.
 */
export async function torchMatrix(
  checkpoint: TorchCheckpoint,
  name: string,
  options: {
    rows: number;
    cols: number;
    file: string;
    transpose?: boolean;
    alloc?: (length: number) => Float32Array;
  },
): Promise<Matrix> {
  const { rows, cols, file } = options;
  expectTorchShape(checkpoint, name, {
    shape: options.transpose ? [cols, rows] : [rows, cols],
    file,
  });
  const t = await loadTorchTensor(checkpoint, name, {
    transpose: options.transpose,
    alloc: options.alloc,
  });
  return matrix([rows, cols], expectFinite(t.data, name));
}

/** Load a vector of `length` values (a [1, n] / [n, 1] tensor too). */
export async function torchVector(
  checkpoint: TorchCheckpoint,
  name: string,
  options: { length: number },
): Promise<Float32Array> {
  return asVector(await loadTorchTensor(checkpoint, name), options.length, { what: name });
}

/** Load a one-element tensor's value. */
export async function torchScalar(checkpoint: TorchCheckpoint, name: string): Promise<number> {
  return asVector(await loadTorchTensor(checkpoint, name), 1, { what: name })[0];
}

/** Run `load` for each name in the order their storages lie in the file (one forward pass). */
export async function loadTorchInFileOrder<T>(
  checkpoint: TorchCheckpoint,
  names: readonly string[],
  options: { load: (name: string) => Promise<T> },
): Promise<Map<string, T>> {
  const { load } = options;
  const out = new Map<string, T>();
  for (const name of inFileOrder(checkpoint, names)) out.set(name, await load(name));
  return out;
}
