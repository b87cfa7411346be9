/**
 * What the load test says about each backend's adapter: read once from the service's `/readyz`
 * answer, so that a chart of "webgpu" says whether it ran on a GPU or on a software rasterizer
 * (llvmpipe, SwiftShader).
 *
 * Read from `/readyz`: `backends: { "<name>": { adapter: string, software_adapter: boolean } }`
 * (one entry per backend the service can use), or a top-level `adapter` (a string, or an object
 * with `name` / `description` and `is_fallback_adapter` / `software_adapter`) describing the
 * backend named by `backend`. Where the service reports nothing, CPU backends (wasm, reference)
 * are named as such and any other backend's adapter is "not reported by the service".
 * @module
 */

/** One backend's adapter, as the report and the chart name it. */
export interface AdapterInfo {
  /** e.g. "llvmpipe (LLVM 15.0.6, 256 bits)", "CPU (WASM)". */
  readonly name: string;
  /** True for a software (fallback) adapter, null when unknown. */
  readonly software: boolean | null;
  /** "service": from /readyz; "cpu": a CPU backend; "unknown": the service did not say. */
  readonly source: "service" | "cpu" | "unknown";
}

const CPU_BACKENDS: Record<string, string> = { wasm: "CPU (WASM)", reference: "CPU (TypeScript)" };

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An adapter entry (string or object) as reported; null when it names nothing. */
function entryOf(v: unknown): AdapterInfo | null {
  if (typeof v === "string" && v) return { name: v, software: null, source: "service" };
  if (!isObject(v)) return null;
  const named = [v.adapter, v.name, v.description].find((x) => typeof x === "string" && x);
  const soft = [v.software_adapter, v.is_fallback_adapter, v.fallback_adapter]
    .find((x) => typeof x === "boolean");
  if (typeof named !== "string") return null;
  return { name: named, software: typeof soft === "boolean" ? soft : null, source: "service" };
}

/** The adapter of `backend` according to a `/readyz` answer (`ready`: its parsed JSON, if any). */
export function adapterFor(backend: string, ready: unknown): AdapterInfo {
  if (isObject(ready)) {
    if (isObject(ready.backends)) {
      const found = entryOf(ready.backends[backend]);
      if (found) return found;
    }
    if (ready.backend === backend) {
      const top = entryOf(ready.adapter);
      if (top) {
        const soft = typeof ready.software_adapter === "boolean" ? ready.software_adapter : null;
        return { ...top, software: top.software ?? soft };
      }
    }
  }
  const cpu = CPU_BACKENDS[backend];
  if (cpu) return { name: cpu, software: null, source: "cpu" };
  return { name: "adapter not reported by the service", software: null, source: "unknown" };
}

/** "llvmpipe (...), software adapter", "RTX 4090, hardware adapter", or the name alone. */
export function adapterLabel(a: AdapterInfo): string {
  if (a.software === null || a.name.startsWith("CPU")) return a.name;
  return `${a.name}, ${a.software ? "software" : "hardware"} adapter`;
}

/** GET /readyz's JSON, or null when it cannot be had (the load test goes on without it). */
export async function readReady(
  origin: string,
  options: { headers: Record<string, string>; timeoutMs: number },
): Promise<unknown> {
  try {
    const res = await fetch(`${origin}/readyz`, {
      headers: options.headers,
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = await res.text();
    return res.ok ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}
