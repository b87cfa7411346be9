/**
 * Several compute backends behind one: a primary (the GPU) that fails over to a fallback
 * (WASM) when it reports itself unavailable (device lost, out of memory), restarts the
 * primary in the background, and lets a request pick a member by name (load tests comparing
 * paths on one instance). Each member prepares a dictionary lazily, from the weights the set
 * keeps, the first time it computes on it.
 * @module
 */

import type {
  Backend,
  BackendHealth,
  BackendName,
  CallOptions,
  DeviceInfo,
  EncodeOptions,
  Prepared,
} from "./backend.ts";
import type { SaeWeights } from "../domain/sae/dictionary.ts";
import { SaeError } from "../domain/errors.ts";
import type { Matrix, SparseRows } from "../domain/sae/matrix.ts";

/** Options of {@link backendSet}. */
export interface BackendSetOptions {
  /** Takes over while the primary is down. */
  readonly fallback?: Backend;
  /** Further members a request may name. */
  readonly others?: readonly Backend[];
  /** Start a fresh primary after a failure (called in the background). */
  readonly restart?: () => Promise<Backend>;
  /** Told each time work moves to the fallback, with the reason. */
  readonly onFailover?: (reason: string) => void;
  /** Told when a restarted primary takes over again. */
  readonly onRecovered?: () => void;
}

/** A backend that is a set of backends. */
export interface BackendSet extends Backend {
  /** Member names a request may choose. */
  readonly names: readonly BackendName[];
  /** A view computing on the named member (SaeError "invalid" for a name not in the set). */
  use(name: string): Backend;
  /** Whether work currently goes to the fallback. */
  readonly degraded: boolean;
}

interface SetPrepared extends Prepared {
  readonly per: Map<Backend, Promise<Prepared>>;
}

/** True for errors that mean "this backend cannot serve now" rather than "bad input". */
function isFailure(e: unknown): boolean {
  return e instanceof SaeError && e.kind === "unavailable";
}

/** The error of a call that meets a closing set. */
function shuttingDown(): SaeError {
  return new SaeError("unavailable", "the service is shutting down");
}

/** Combine `primary` with a fallback and other named members. */
export function backendSet(primary: Backend, options: BackendSetOptions = {}): BackendSet {
  let current = primary;
  let down = false;
  let restarting: Promise<void> | null = null;
  /** Set by close: a member failing then is closing, not broken (no failover, no restart). */
  let closing = false;
  const others = options.others ?? [];
  const members =
    (): Backend[] => [current, ...(options.fallback ? [options.fallback] : []), ...others];
  const everything = new Set<SetPrepared>();

  function preparedOn(sp: SetPrepared, backend: Backend): Promise<Prepared> {
    let p = sp.per.get(backend);
    if (!p) {
      p = backend.prepare(sp.weights);
      sp.per.set(backend, p);
      p.catch(() => sp.per.delete(backend));
    }
    return p;
  }

  function failover(reason: string): void {
    if (down || closing) return;
    down = true;
    options.onFailover?.(reason);
    if (!options.restart || restarting) return;
    restarting = (async () => {
      try {
        const fresh = await options.restart!();
        for (const sp of everything) sp.per.delete(current);
        const failed = current;
        current = fresh;
        // The failed primary's threads and device go: each restart would otherwise keep one.
        Promise.resolve(failed.close?.()).catch(() => {});
        down = false;
        options.onRecovered?.();
      } catch {
        // stay on the fallback; the next failure-free restart attempt comes with the next failover
      } finally {
        restarting = null;
      }
    })();
  }

  /**
   * Run `op` on the active member, moving to the fallback if the primary fails (not when the
   * call was aborted: its "unavailable" reason is the caller's, not the backend's).
   */
  async function call<T>(
    sp: SetPrepared,
    op: (b: Backend, p: Prepared) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    if (!down || !options.fallback) {
      const primaryNow = current;
      try {
        return await op(primaryNow, await preparedOn(sp, primaryNow));
      } catch (e) {
        if (!isFailure(e) || !options.fallback || signal?.aborted) throw e;
        if (closing) throw shuttingDown();
        failover((e as Error).message);
      }
    }
    if (closing) throw shuttingDown();
    const fallback = options.fallback!;
    return await op(fallback, await preparedOn(sp, fallback));
  }

  function view(pick: () => Backend, failsOver: boolean): Backend {
    const run = <T>(
      prepared: Prepared,
      op: (b: Backend, p: Prepared) => Promise<T>,
      signal: AbortSignal | undefined,
    ): Promise<T> => {
      const sp = prepared as SetPrepared;
      if (failsOver) return call(sp, op, signal);
      const b = pick();
      return preparedOn(sp, b).then((p) => op(b, p));
    };
    return {
      get name(): BackendName {
        return pick().name;
      },
      health: (): BackendHealth => (failsOver ? setHealth() : memberHealth(pick())),
      device: (): DeviceInfo => pick().device?.() ?? { adapter: "not reported", software: false },
      prepare: (weights: SaeWeights) => set.prepare(weights),
      release: (prepared: Prepared) => set.release(prepared),
      encode: (prepared: Prepared, s: Matrix, o?: EncodeOptions): Promise<SparseRows> =>
        run(prepared, (b, p) => b.encode(p, s, o), o?.signal),
      decodeSparse: (
        prepared: Prepared,
        codes: SparseRows,
        o?: { bias?: boolean } & CallOptions,
      ): Promise<Matrix> => run(prepared, (b, p) => b.decodeSparse(p, codes, o), o?.signal),
      decodeDense: (
        prepared: Prepared,
        codes: Matrix,
        o?: { bias?: boolean } & CallOptions,
      ): Promise<Matrix> => run(prepared, (b, p) => b.decodeDense(p, codes, o), o?.signal),
      steer: (
        prepared: Prepared,
        x: Matrix,
        deltas: SparseRows,
        o?: { rowScale?: Float32Array } & CallOptions,
      ): Promise<Matrix> => run(prepared, (b, p) => b.steer(p, x, deltas, o), o?.signal),
      matmul: (
        a: Matrix,
        b: Matrix,
        o?: { transposeB?: boolean } & CallOptions,
      ): Promise<Matrix> => pick().matmul(a, b, o),
      topK: (m: Matrix, k: number, o?: CallOptions): Promise<SparseRows> => pick().topK(m, k, o),
    };
  }

  const active = (): Backend => (down && options.fallback ? options.fallback : current);
  const memberHealth = (b: Backend): BackendHealth => b.health?.() ?? { healthy: true };
  /** Healthy while the active member can compute, or the fallback can take over. */
  function setHealth(): BackendHealth {
    const now = active();
    const mine = memberHealth(now);
    if (mine.healthy) return mine;
    const fallback = options.fallback && now !== options.fallback
      ? memberHealth(options.fallback)
      : null;
    if (fallback?.healthy) return fallback;
    return { healthy: false, detail: `${now.name}: ${mine.detail ?? "unavailable"}` };
  }
  const base = view(active, true);
  const set: BackendSet = {
    ...base,
    get name(): BackendName {
      return active().name;
    },
    get degraded(): boolean {
      return down;
    },
    get names(): BackendName[] {
      return [...new Set(members().map((b) => b.name))];
    },
    async prepare(weights: SaeWeights): Promise<Prepared> {
      const sp: SetPrepared = { weights, extraBytes: 0, per: new Map() };
      // Prepare eagerly on the active member so load errors surface at load time.
      await call(sp, () => Promise.resolve(undefined));
      everything.add(sp);
      return sp;
    },
    release(prepared: Prepared): void {
      const sp = prepared as SetPrepared;
      everything.delete(sp);
      for (const [b, p] of sp.per) p.then((x) => b.release(x), () => {});
      sp.per.clear();
    },
    use(name: string): Backend {
      const member = members().find((b) => b.name === name);
      if (!member) {
        throw new SaeError(
          "invalid",
          `backend ${JSON.stringify(name)} is not available; choose one of ${set.names.join(", ")}`,
        );
      }
      return member === current ? view(() => current, false) : view(() => member, false);
    },
    matmul: (a: Matrix, b: Matrix, o?: { transposeB?: boolean } & CallOptions) =>
      active().matmul(a, b, o),
    topK: (m: Matrix, k: number, o?: CallOptions) => active().topK(m, k, o),
    async close(): Promise<void> {
      closing = true;
      await restarting; // a restart under way finishes, so its new primary is closed too
      await Promise.all(members().map((b) => b.close?.()));
    },
  };
  return set;
}
