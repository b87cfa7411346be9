/**
 * The saeserve client for Deno, Node and browsers (fetch): list, describe, encode, decode and
 * steer with typed arrays, .npy on the wire.
 * @module
 */

import { decodeNpy, decodeNpyInt32, encodeNpy, type Matrix } from "./npy.ts";
import { decodeNpz } from "./npz.ts";
import type { Intervention } from "./interventions.ts";
import { send, type TransportOptions } from "./transport.ts";

const NPY = "application/x-npy";
const NPZ = "application/x-npz";
/** Above this many characters of query string, steer sends JSON instead of .npy + query. */
const MAX_QUERY = 4000;

/** Extras an encode may include (checked against /openapi.json). */
export const ENCODE_INCLUDES = ["reconstruction", "error", "metrics"] as const;

/** One entry of GET /v1/dictionaries (and the core of GET /v1/dictionaries/{id}). */
export interface DictionaryInfo {
  id: string;
  format: string;
  architecture: string;
  d_in: number;
  d_sae: number;
  loaded: boolean;
  [more: string]: unknown;
}

/** Reconstruction quality of an encode. */
export interface EncodeMetrics {
  l0: number;
  mse: number;
  fvu: number;
  cosine: number;
  /** The same per row. */
  per_row: { l0: number[]; mse: number[]; cosine: number[] };
  [more: string]: unknown;
}

/** Codes of an encode: [rows, width] row-major, latents sorted by value, padded with -1 / 0. */
export interface Encoding {
  indices: Int32Array;
  values: Float32Array;
  rows: number;
  width: number;
  reconstruction?: Matrix;
  error?: Matrix;
  metrics?: EncodeMetrics;
}

/** Activations: a float32 matrix, or rows of numbers. */
export type Activations = Matrix | readonly (readonly number[])[];

/** Client settings. */
export interface ClientOptions extends TransportOptions {
  /** Service origin (default http://localhost:8080). */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer`. */
  apiKey?: string;
}

function toMatrix(x: Activations): Matrix {
  if ("data" in x) return x;
  const rows = x.length, cols = rows ? x[0].length : 0;
  const data = new Float32Array(rows * cols);
  x.forEach((row, r) => {
    if (row.length !== cols) {
      throw new RangeError(
        `row ${r} has ${row.length} number${row.length === 1 ? "" : "s"}, row 0 has ${cols}`,
      );
    }
    data.set(row, r * cols);
  });
  return { data, rows, cols };
}

/** The path and value of the first NaN or infinite number inside `value`, if any. */
function nonFinite(value: unknown, path: string): [string, number] | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : [path, value];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nonFinite(value[i], `${path}[${i}]`);
      if (found) return found;
    }
  } else if (value && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      const found = nonFinite(v, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * `interventions` as a list: one on its own (a plain object) is a list of one, any other
 * iterable is taken element by element; TypeError for anything else.
 */
function interventionList(
  interventions: Intervention | Iterable<Intervention>,
): readonly Intervention[] {
  const what =
    "interventions must be a list of interventions (objects such as clamp(3, 1) returns)";
  const isObject = (v: unknown) => {
    if (typeof v !== "object" || v === null) return false;
    const proto = Object.getPrototypeOf(v);
    return proto === Object.prototype || proto === null;
  };
  if (isObject(interventions)) return [interventions as Intervention];
  const iterable = typeof interventions === "object" && interventions !== null &&
    Symbol.iterator in interventions && !ArrayBuffer.isView(interventions);
  if (!iterable) {
    const kind = interventions === null ? "null" : typeof interventions;
    throw new TypeError(
      `${what}, got ${ArrayBuffer.isView(interventions) ? "a typed array" : kind}`,
    );
  }
  const list: readonly unknown[] = Array.from(interventions as Iterable<unknown>);
  const n = list.findIndex((iv) => !isObject(iv));
  if (n >= 0) {
    throw new TypeError(
      `${what}: element ${n} is ${Array.isArray(list[n]) ? "an array" : typeof list[n]}`,
    );
  }
  return list as readonly Intervention[];
}

function rowsOf(m: Matrix): number[][] {
  return Array.from(
    { length: m.rows },
    (_, r) => Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols)),
  );
}

function fromRows(rows: number[][] | undefined): Matrix | undefined {
  return rows ? toMatrix(rows) : undefined;
}

/**
 * The JSON body of a sparse decode: each row's indices and values as given, less padding (index
 * -1 with value 0, as `encode` pads short rows). RangeError, naming the row, for what the service
 * would refuse: a different number of rows or of entries in a row, an index that is not an
 * integer, a negative index other than padding.
 */
function sparseBody(
  ix: readonly (readonly number[])[],
  vs: readonly (readonly number[])[],
): { indices: number[][]; values: number[][] } {
  if (ix.length !== vs.length) {
    throw new RangeError(`indices has ${ix.length} rows but values has ${vs.length}`);
  }
  const indices: number[][] = [], values: number[][] = [];
  ix.forEach((row, r) => {
    const v = vs[r];
    if (row.length !== v.length) {
      throw new RangeError(`row ${r}: ${row.length} indices but ${v.length} values`);
    }
    const keptIndices: number[] = [], keptValues: number[] = [];
    row.forEach((i, j) => {
      if (!Number.isInteger(i)) {
        throw new RangeError(`indices must be integers: row ${r} has ${i} at position ${j}`);
      }
      if (i === -1 && v[j] === 0) return; // padding
      if (i < 0) {
        const why = i === -1 ? `its value is ${v[j]}; ` : "";
        throw new RangeError(
          `row ${r}: feature index ${i} is out of range (${why}-1 is padding only with value 0)`,
        );
      }
      keptIndices.push(i);
      keptValues.push(v[j]);
    });
    indices.push(keptIndices);
    values.push(keptValues);
  });
  return { indices, values };
}

/** A connection to saeserve; retries 429 / 503 and throws SaeServeError for error answers. */
export class Client {
  readonly baseUrl: string;
  readonly #options: ClientOptions;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? "http://localhost:8080").replace(
      /\/+$/,
      "",
    );
    this.#options = options;
  }

  #url(id?: string, op?: string): string {
    let url = `${this.baseUrl}/v1/dictionaries`;
    if (id !== undefined) url += `/${encodeURIComponent(id)}`;
    return op ? `${url}/${op}` : url;
  }

  #send(
    url: string,
    init: { method?: string; body?: BodyInit; headers: Record<string, string> },
  ) {
    const headers = { ...init.headers };
    if (this.#options.apiKey) {
      headers.authorization = `Bearer ${this.#options.apiKey}`;
    }
    return send(
      url,
      { method: init.method ?? "GET", body: init.body, headers },
      this.#options,
    );
  }

  async #npy(res: Response): Promise<Matrix> {
    return decodeNpy(new Uint8Array(await res.arrayBuffer()));
  }

  /** Every dictionary in the store. */
  async dictionaries(): Promise<DictionaryInfo[]> {
    const res = await this.#send(this.#url(), {
      headers: { accept: "application/json" },
    });
    return (await res.json()).dictionaries;
  }

  /** Metadata of one dictionary (loads it on the service if needed). */
  async describe(id: string): Promise<DictionaryInfo> {
    return await (await this.#send(this.#url(id), {
      headers: { accept: "application/json" },
    }))
      .json();
  }

  /** Sparse codes of `x` [rows, d_in]: at most `top` per row, with the extras `include` names. */
  async encode(
    id: string,
    x: Activations,
    options: {
      top?: number;
      include?: readonly (typeof ENCODE_INCLUDES[number])[];
    } = {},
  ): Promise<Encoding> {
    const query = new URLSearchParams();
    if (options.top !== undefined) query.set("top", String(options.top));
    if (options.include?.length) {
      query.set("include", options.include.join(","));
    }
    const url = this.#url(id, "encode") + (query.size ? `?${query}` : "");
    const m = toMatrix(x);
    // Batches come back as .npz (256 rows: 91 -> 85 ms); one row as JSON, as fast or a little
    // faster (2.66 against 2.73 ms, 2 of 10 blocks; bench/results/ts_client_npz_2026-11-27.log).
    // With metrics JSON too: the .npz answer carries them in a header that grows with the rows
    // (Node's fetch refuses headers over 16 KiB: ~400 rows), and proxies cap headers as well.
    const npz = m.rows > 1 && !options.include?.includes("metrics");
    const res = await this.#send(url, {
      method: "POST",
      body: encodeNpy(m),
      headers: { "content-type": NPY, accept: npz ? NPZ : "application/json" },
    });
    if (res.headers.get("content-type")?.startsWith(NPZ)) {
      const arrays = await decodeNpz(new Uint8Array(await res.arrayBuffer()));
      const indices = arrays.get("indices"), values = arrays.get("values");
      if (!indices || !values) throw new Error("the .npz answer has no indices or values");
      const codes = decodeNpyInt32(indices);
      const matrix = (name: string) => {
        const member = arrays.get(name);
        return member ? decodeNpy(member) : undefined;
      };
      return {
        indices: codes.data,
        values: decodeNpy(values).data,
        rows: codes.rows,
        width: codes.cols,
        reconstruction: matrix("reconstruction"),
        error: matrix("error"),
      };
    }
    const body = await res.json();
    const lists: number[][] = body.indices;
    const width = lists.reduce((w, r) => Math.max(w, r.length), 0);
    const indices = new Int32Array(lists.length * width).fill(-1);
    const values = new Float32Array(lists.length * width);
    lists.forEach((r, i) => {
      indices.set(r, i * width);
      values.set(body.values[i], i * width);
    });
    return {
      indices,
      values,
      rows: lists.length,
      width,
      reconstruction: fromRows(body.reconstruction),
      error: fromRows(body.error),
      metrics: body.metrics,
    };
  }

  /**
   * Activations from sparse codes (index -1 with value 0 is padding, as `encode` pads; left out)
   * or dense codes. RangeError, before anything is sent, for sparse codes the service would
   * refuse: rows of different lengths, an index that is not an integer, or a negative one other
   * than padding.
   */
  async decode(
    id: string,
    codes: {
      indices: Int32Array | number[][];
      values: Float32Array | number[][];
      width?: number;
      /** Rows of flat codes (an encode's answer has it): width 0 still means this many rows. */
      rows?: number;
    } | {
      codes: Activations;
    },
  ): Promise<Matrix> {
    const url = this.#url(id, "decode");
    if ("codes" in codes) {
      const body = encodeNpy(toMatrix(codes.codes));
      return await this.#npy(
        await this.#send(url, {
          method: "POST",
          body,
          headers: { "content-type": NPY, accept: NPY },
        }),
      );
    }
    const split = <T extends Int32Array | Float32Array>(
      a: T | number[][],
    ): number[][] => {
      if (Array.isArray(a)) return a;
      const w = codes.width ?? codes.indices.length;
      return Array.from(
        { length: codes.rows ?? (w ? a.length / w : 0) },
        (_, r) => Array.from(a.subarray(r * w, (r + 1) * w)),
      );
    };
    const body = JSON.stringify(sparseBody(split(codes.indices), split(codes.values)));
    return await this.#npy(
      await this.#send(url, {
        method: "POST",
        body,
        headers: { "content-type": "application/json", accept: NPY },
      }),
    );
  }

  /**
   * Steered activations [rows, d_in] (error-preserving, interventions in order; one on its own is
   * a list of one). Before anything is sent: TypeError for something else than interventions,
   * RangeError for an intervention value that is not a finite number.
   */
  async steer(
    id: string,
    x: Activations,
    interventions: Intervention | Iterable<Intervention>,
  ): Promise<Matrix> {
    const m = toMatrix(x);
    const list = interventionList(interventions);
    const bad = nonFinite(list, "interventions");
    // JSON has no NaN or Infinity: they would reach the service as null.
    if (bad) throw new RangeError(`${bad[0]} must be a finite number, not ${bad[1]}`);
    const query = `interventions=${encodeURIComponent(JSON.stringify(list))}`;
    const url = this.#url(id, "steer");
    const res = query.length <= MAX_QUERY
      ? await this.#send(`${url}?${query}`, {
        method: "POST",
        body: encodeNpy(m),
        headers: { "content-type": NPY, accept: NPY },
      })
      : await this.#send(url, {
        method: "POST",
        body: JSON.stringify({ activations: rowsOf(m), interventions: list }),
        headers: { "content-type": "application/json", accept: NPY },
      });
    return await this.#npy(res);
  }
}
