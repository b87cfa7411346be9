/**
 * Backend selection by name, the one place that turns "auto", "webgpu", "wasm" or "reference"
 * into a backend: {@link openBackend} for the CLIs (one backend), {@link selectBackend} for the
 * service (the GPU wrapped in a failover set, and the per-request chooser).
 * @module
 */

import { type Backend, BACKEND_CHOICES, type BackendChoice } from "./backend.ts";
import { backendSet } from "./backend_set.ts";
import { referenceBackend } from "./reference/mod.ts";
import { hasHardwareAdapter } from "./gpu/device.ts";
import { wasmBackend } from "./wasm/mod.ts";
import { SaeError } from "../domain/errors.ts";
import type { Precision } from "../domain/precision.ts";

export { BACKEND_CHOICES, type BackendChoice } from "./backend.ts";

/** `text` as a backend choice; SaeError "invalid" naming the valid values otherwise. */
export function parseBackendChoice(text: string, options?: { source?: string }): BackendChoice {
  const choice = BACKEND_CHOICES.find((c) => c === text);
  if (choice) return choice;
  throw new SaeError(
    "invalid",
    `${options?.source ?? "backend"} must be one of ${BACKEND_CHOICES.join(", ")}, not ${
      JSON.stringify(text)
    }`,
  );
}

/** How {@link openBackend} starts the WASM and WebGPU backends. */
export interface OpenBackendOptions {
  /** WASM worker threads (default: the machine's cores). */
  readonly threads?: number;
  /** How long (ms) the last WASM worker polls for the next round (wasm/worker.ts). */
  readonly spinMs?: number;
  /** Stored weight precision (default f32). */
  readonly weights?: Precision;
  /** WASM kernel watchdog in ms. */
  readonly watchdogMs?: number;
  /** Told when the WASM watchdog replaces the kernel workers. */
  readonly onReplaced?: (reason: string) => void;
  /** Live turns in a row a waiting research turn lets pass, WASM and WebGPU (turn_order.ts). */
  readonly liveTurns?: number;
  /** For "webgpu": refuse software adapters (what "auto" does). */
  readonly requireHardware?: boolean;
  /**
   * For "webgpu": hold the device on a worker thread (gpu/thread.ts), as the service does: Deno's
   * WebGPU blocks its calling thread while the GPU works. Default false (a CLI's one thread).
   */
  readonly thread?: boolean;
}

/**
 * One backend for `choice`, without failover. "auto" uses WebGPU when a hardware adapter is
 * present (falling back to WASM, with a warning, if it fails to start), else WASM. A WebGPU start
 * without an adapter throws SaeError "unavailable". Close the backend when done.
 */
export async function openBackend(
  choice: BackendChoice,
  options: OpenBackendOptions = {},
): Promise<Backend> {
  const gpu = async (requireHardware: boolean) => {
    // int8 is a WASM kernel path (int8 dot products, exact f32 rescoring); WebGPU holds bf16.
    const weights = options.weights === "int8" ? "bf16" : options.weights;
    if (options.weights === "int8") {
      console.warn("saeserve: SAESERVE_WEIGHTS=int8 is a WASM path; WebGPU stores bf16 weights");
    }
    // Loaded only when used: a service on the WASM path does not hold the WebGPU backend.
    if (options.thread) {
      const { webgpuThread } = await import("./gpu/thread.ts");
      return await webgpuThread({ requireHardware, weights, liveTurns: options.liveTurns });
    }
    const { webgpuBackend } = await import("./gpu/mod.ts");
    return await webgpuBackend({ requireHardware, weights });
  };
  switch (choice) {
    case "reference":
      return referenceBackend();
    case "webgpu":
      return await gpu(options.requireHardware ?? false);
    case "wasm":
      return await wasmBackend({
        threads: options.threads,
        spinMs: options.spinMs,
        weights: options.weights,
        watchdogMs: options.watchdogMs,
        onReplaced: options.onReplaced,
        liveTurns: options.liveTurns,
      });
    case "auto":
      if (await hasHardwareAdapter()) {
        const started = await gpu(true).catch((e: Error) => {
          console.warn(`saeserve: WebGPU failed to start (${e.message}); using wasm`);
          return null;
        });
        if (started) return started;
      }
      return await openBackend("wasm", options);
  }
}

/** What {@link selectBackend} builds: the service's backend and, if allowed, a per-request chooser. */
export interface Backends {
  readonly backend: Backend;
  readonly chooseBackend?: (name: string) => Backend;
}

/** The service settings {@link selectBackend} reads (a subset of service/config.ts's Config). */
export interface BackendConfig {
  readonly backend: BackendChoice;
  readonly threads?: number;
  readonly spinMs?: number;
  readonly weights: Precision;
  readonly allowBackendOverride: boolean;
  readonly kernelWatchdogMs: number;
  /** Live turns in a row a waiting research turn lets pass ($SAESERVE_LIVE_TURNS). */
  readonly liveTurns?: number;
}

/** What {@link selectBackend} tells its caller about (the service counts these in /metrics). */
export interface SelectHooks {
  /** The WASM watchdog replaced the kernel workers (a round made no progress, or one died). */
  readonly onPoolReplaced?: (reason: string) => void;
  /** A request moved from the GPU to the WASM backend after a GPU failure. */
  readonly onFailover?: (reason: string) => void;
}

/**
 * The service's backend for a $SAESERVE_BACKEND choice. A GPU backend (its device on a worker
 * thread) is wrapped in a set that fails over to WASM (logged, and told to `onFailover`) and
 * restarts the GPU in the background; with
 * $SAESERVE_ALLOW_BACKEND_OVERRIDE=1 every available backend joins the set so a request can
 * name one.
 */
export async function selectBackend(
  config: BackendConfig,
  hooks: SelectHooks = {},
): Promise<Backends> {
  const wasm = () =>
    openBackend("wasm", {
      threads: config.threads,
      spinMs: config.spinMs,
      weights: config.weights,
      watchdogMs: config.kernelWatchdogMs,
      liveTurns: config.liveTurns,
      onReplaced: (reason) => {
        hooks.onPoolReplaced?.(reason);
        console.warn(`saeserve: kernel pool replaced (${reason})`);
      },
    });
  const webgpu = (requireHardware: boolean) =>
    openBackend("webgpu", {
      requireHardware,
      weights: config.weights,
      thread: true,
      liveTurns: config.liveTurns,
    });
  let gpu: Backend | null = null;
  let requireHardware = false;
  if (config.backend === "webgpu") gpu = await webgpu(false);
  if (config.backend === "auto" && await hasHardwareAdapter()) {
    requireHardware = true;
    gpu = await webgpu(true).catch((e) => {
      console.warn(`saeserve: WebGPU failed to start (${(e as Error).message}); using wasm`);
      return null;
    });
  }
  const primary = gpu ?? (config.backend === "reference" ? referenceBackend() : await wasm());
  if (!gpu && !config.allowBackendOverride) return { backend: primary };
  const fallback = gpu ? await wasm() : undefined;
  const others: Backend[] = [];
  if (config.allowBackendOverride) {
    if (primary.name !== "reference") others.push(referenceBackend());
    if (!fallback && primary.name !== "wasm") others.push(await wasm());
    if (!gpu) others.push(...await webgpu(false).then((b) => [b], () => []));
  }
  const set = backendSet(primary, {
    fallback,
    others,
    restart: gpu ? () => webgpu(requireHardware) : undefined,
    onFailover: (reason) => {
      hooks.onFailover?.(reason);
      console.warn(`saeserve: GPU failed (${reason}); serving on wasm while it restarts`);
    },
    onRecovered: () => console.warn("saeserve: GPU restarted; serving on webgpu again"),
  });
  return {
    backend: set,
    chooseBackend: config.allowBackendOverride ? (name) => set.use(name) : undefined,
  };
}
