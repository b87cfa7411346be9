/**
 * Opening a WebGPU device, and guarding calls on it: a lost device, a GPU validation error or
 * running out of GPU memory becomes SaeError "unavailable" (the backend set then fails over).
 * @module
 */

import { SaeError } from "../../domain/errors.ts";

/** Open an adapter and device, or null when there is none (or only a software one and `requireHardware`). */
export async function openDevice(
  options?: { requireHardware?: boolean },
): Promise<{ adapter: GPUAdapter; device: GPUDevice } | null> {
  if (!("gpu" in navigator) || !navigator.gpu) return null;
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter || (options?.requireHardware && adapter.info.isFallbackAdapter)) return null;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
  return { adapter, device };
}

/** Whether this machine has a real (non-fallback) WebGPU adapter. */
export async function hasHardwareAdapter(): Promise<boolean> {
  try {
    const adapter = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
    return !!adapter && !adapter.info.isFallbackAdapter;
  } catch {
    return false;
  }
}

/** Guards for work on one device. */
export interface DeviceGuard {
  /** Resolves with the reason when the device is lost (never, normally). */
  readonly lost: Promise<string>;
  /** Throw SaeError "unavailable" once the device is gone. */
  alive(): void;
  /** Run `fn` inside out-of-memory and validation error scopes; a GPU error becomes "unavailable". */
  guarded<T>(fn: () => Promise<T> | T): Promise<T>;
  /** Run a public operation: a lost device, or any WebGPU failure, becomes SaeError "unavailable". */
  safely<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
}

/** Watch `device` for loss and give the guards of its work. */
export function guardDevice(device: GPUDevice): DeviceGuard {
  const lost = device.lost.then((info) => info.message || String(info.reason) || "device lost");
  let lostReason: string | null = null;
  lost.then((reason) => (lostReason = reason));

  function alive(): void {
    if (lostReason !== null) throw new SaeError("unavailable", `GPU device lost: ${lostReason}`);
  }

  async function guarded<T>(fn: () => Promise<T> | T): Promise<T> {
    alive();
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      await device.popErrorScope().catch(() => null);
      await device.popErrorScope().catch(() => null);
      alive();
      throw e;
    }
    const validation = await device.popErrorScope();
    const memory = await device.popErrorScope();
    const error = memory ?? validation;
    if (error) {
      throw new SaeError(
        "unavailable",
        `GPU ${memory ? "out of memory" : "error"}: ${error.message}`,
      );
    }
    alive();
    return result;
  }

  async function safely<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    alive();
    signal?.throwIfAborted();
    try {
      return await fn();
    } catch (e) {
      alive();
      if (e instanceof SaeError || e instanceof RangeError) throw e;
      throw new SaeError("unavailable", `GPU failure: ${(e as Error)?.message ?? e}`, { cause: e });
    }
  }

  return { lost, alive, guarded, safely };
}
