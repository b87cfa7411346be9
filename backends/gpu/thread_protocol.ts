/**
 * Messages between the WebGPU backend's proxy on the request thread (gpu/thread.ts) and the
 * worker that holds the device (gpu/thread_worker.ts).
 * @module
 */

import type { DeviceInfo } from "../backend.ts";
import type { WireError } from "../../domain/errors.ts";
import type { Precision } from "../../domain/precision.ts";
import type { WebGpuBackendOptions } from "./mod.ts";

/** The backend methods the worker serves. */
export type GpuMethod =
  | "prepare"
  | "release"
  | "encode"
  | "decodeSparse"
  | "decodeDense"
  | "steer"
  | "matmul"
  | "topK";

/** A call: prepared dictionaries travel as their id; options without signals. */
export interface GpuCall {
  readonly id: number;
  readonly method: GpuMethod;
  readonly args: readonly unknown[];
}

/** The first message: open the device. */
export interface GpuOpen {
  readonly id: 0;
  readonly open: WebGpuBackendOptions;
}

/** Drop call `cancel` if it has not started (its caller was answered at once). */
export interface GpuCancel {
  readonly cancel: number;
}

/** Destroy the device and answer `closed`; the proxy then terminates the worker. */
export interface GpuClose {
  readonly close: true;
}

/** What the worker reports once its device is open. */
export interface GpuOpened {
  readonly name: "webgpu";
  readonly adapter: string;
  readonly fallbackAdapter: boolean;
  readonly device: DeviceInfo;
  readonly maxBinding: number;
  readonly precision: Precision;
}

/** The worker's answers, and its report of a lost device. */
export type GpuReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WireError }
  | { readonly lost: string }
  | { readonly closed: true };
