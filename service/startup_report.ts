/**
 * What the service says about itself once it listens: the backend (and, for WebGPU, the
 * adapter and whether it is a software one), the store and the dictionaries found there (a
 * count and the first few ids), and a warning when the store is missing, unreadable or empty,
 * or when a dictionary in it cannot be read.
 * @module
 */

import type { DeviceInfo } from "../backends/backend.ts";
import type { Catalog, Registry } from "./registry.ts";

/** The report's lines: `info` for stdout, `warnings` for stderr. */
export interface StartupReport {
  readonly info: string[];
  readonly warnings: string[];
}

/** Ids shown per list before "and N more". */
const SHOWN = 5;

/** "a, b, c and 4 more". */
function some(ids: string[]): string {
  const shown = ids.slice(0, SHOWN).join(", ");
  return ids.length > SHOWN ? `${shown} and ${ids.length - SHOWN} more` : shown;
}

/** The backend line: its name, and for WebGPU the adapter. */
export function backendLine(backend: string, adapter?: DeviceInfo): string {
  if (backend !== "webgpu") return `saeserve: backend ${backend}`;
  if (!adapter) return "saeserve: backend webgpu (adapter unknown)";
  const software = adapter.software ? ", a software adapter: expect CPU speed" : "";
  return `saeserve: backend webgpu, adapter ${JSON.stringify(adapter.adapter)} ` +
    `(isFallbackAdapter ${adapter.software}${software})`;
}

/** A folder name as a log line can hold it: quoted, with escapes, when it has control characters. */
function shown(id: string): string {
  // deno-lint-ignore no-control-regex
  return /[\u0000-\u001f\u007f]/.test(id) ? JSON.stringify(id) : id;
}

/** The store's lines, from its catalog or the error listing it gave. */
export function storeLines(store: string, listed: Catalog | Error): StartupReport {
  if (listed instanceof Error) {
    return {
      info: [],
      warnings: [
        `warning: the store ${store} cannot be listed (${listed.message}); dictionary ` +
        "requests answer 503 until it can: check SAESERVE_STORE",
      ],
    };
  }
  const { dictionaries, aligned } = listed;
  if (dictionaries.length === 0 && aligned.length === 0) {
    return {
      info: [],
      warnings: [
        `warning: the store ${store} holds no dictionaries (no folder with a known ` +
        "checkpoint's files): check SAESERVE_STORE",
      ],
    };
  }
  const ids = (list: { id: string }[]) => some(list.map((d) => shown(d.id)));
  const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const parts = [
    dictionaries.length
      ? `${count(dictionaries.length, "dictionary", "dictionaries")} (${ids(dictionaries)})`
      : "no dictionaries",
  ];
  if (aligned.length) {
    parts.push(
      `${count(aligned.length, "aligned dictionary", "aligned dictionaries")} (${ids(aligned)})`,
    );
  }
  const broken = [...dictionaries, ...aligned].filter((d) => d.error !== undefined);
  const explained = dictionaries.flatMap((d) =>
    (d.explanations?.warnings ?? []).map((w) => `warning: ${shown(d.id)}: ${w}`)
  );
  return {
    info: [`saeserve: store ${store} holds ${parts.join(" and ")}`],
    warnings: [
      ...(broken.length
        ? [
          `warning: ${count(broken.length, "dictionary", "dictionaries")} in the store cannot be ` +
          `read: ${some(broken.map((d) => `${shown(d.id)} (${d.error})`))}`,
        ]
        : []),
      ...explained,
    ],
  };
}

/** The whole report: the backend line, then what listing the store finds. */
export async function startupReport(
  registry: Registry,
  options: { backend: string; adapter?: DeviceInfo },
): Promise<StartupReport> {
  const listed = await registry.catalog().catch((e: unknown) =>
    e instanceof Error ? e : new Error(String(e))
  );
  const store = storeLines(registry.store.describe, listed);
  return {
    info: [backendLine(options.backend, options.adapter), ...store.info],
    warnings: store.warnings,
  };
}

/** The service's address for the start-up line: an IPv6 host goes in brackets. */
export function serviceUrl(hostname: string, options: { port: number }): string {
  return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${options.port}`;
}
