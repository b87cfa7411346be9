/**
 * Request bodies: size-bounded reading, JSON or .npy by Content-Type, validation, and option
 * parsing from the body or the query string (the matrices themselves: body_matrix.ts).
 * @module
 */

import type { Context } from "hono";
import type { z } from "zod";
import { SaeError } from "../domain/errors.ts";
import type { Matrix } from "../domain/sae/matrix.ts";
import { DETAIL_MAX_CHARS, truncateDetail } from "./problem.ts";
import { jsonMatrix, npyMatrix } from "./body_matrix.ts";

/** How much of a request's own key or path an error message quotes. */
const QUOTE = { maxChars: 100 } as const;

/** The two forms a request can take. */
export type RequestForm = "json" | "npy";

/** Media type of .npy bodies. */
export const NPY_TYPE = "application/x-npy";

/** The form of the request from its Content-Type; anything else is a 415. */
export function requestForm(c: Context): RequestForm {
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type === "application/json" || type.endsWith("+json")) return "json";
  if (type === NPY_TYPE || type === "application/octet-stream+npy") return "npy";
  throw new SaeError(
    "unsupported_media",
    `Content-Type ${
      JSON.stringify(type || "(none)")
    } is not supported; send application/json or ${NPY_TYPE}`,
  );
}

/** For endpoints that take JSON only: 415 for any other Content-Type, .npy included. */
export function requireJson(c: Context): void {
  if (requestForm(c) !== "json") {
    throw new SaeError("unsupported_media", "this endpoint takes application/json only");
  }
}

/** How the error of a body cut short begins (a draining service answers 503 instead). */
export const BODY_CUT_SHORT = "the request body could not be read to its end";

/**
 * Read the whole body, refusing more than `maxBytes` (by Content-Length or while streaming). A
 * body cut short (the client closed or broke the connection mid-upload) is a 400, not a 500: it
 * is the client's doing, and alerts on 5xx must not fire for it.
 */
export async function readBody(c: Context, maxBytes: number): Promise<Uint8Array> {
  try {
    return await readWhole(c, maxBytes);
  } catch (e) {
    if (e instanceof SaeError) throw e;
    throw new SaeError(
      "malformed",
      `${BODY_CUT_SHORT} (${(e as Error)?.name ?? "error"}: ` +
        "the connection closed or broke before the body was complete)",
      { cause: e },
    );
  }
}

async function readWhole(c: Context, maxBytes: number): Promise<Uint8Array> {
  const encoding = (c.req.header("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "") {
    throw new SaeError(
      "unsupported_media",
      `Content-Encoding ${
        JSON.stringify(encoding.slice(0, 40))
      } is not supported; send the body uncompressed`,
    );
  }
  const tooLarge = () =>
    new SaeError(
      "too_large",
      `request body exceeds the limit of ${maxBytes} bytes (SAESERVE_MAX_BODY_MB); send large ` +
        "inputs in several requests",
    );
  const declared = Number(c.req.header("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const stream = c.req.raw.body;
  if (!stream) return new Uint8Array(0);
  // A declared length bounds the body (the server refuses more), so it is read in one call:
  // 0.1 ms less per request than the reader loop below, which chunked bodies need.
  if (Number.isFinite(declared)) {
    const bytes = await c.req.raw.bytes();
    if (bytes.byteLength > maxBytes) throw tooLarge(); // a Request made in-process can lie
    return bytes;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Parse a JSON object body (400 when it is not one). */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new SaeError("malformed", `body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SaeError("malformed", "body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/**
 * Validate `value` with a zod schema. Structural problems (wrong types, unknown keys) are a
 * 400; well-formed values outside the allowed set or range (unknown mode, top < 1) are a 422.
 */
export function validate<T>(schema: z.ZodType<T>, value: unknown, options: { where: string }): T {
  const { where } = options;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  // Paths and messages quote the request's own keys (an unknown key can be megabytes long).
  const path = truncateDetail(
    issue.path.map((p) => truncateDetail(String(p), QUOTE)).join("."),
    QUOTE,
  );
  const semantic = ["invalid_value", "too_small", "too_big", "not_multiple_of"].includes(
    issue.code,
  );
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    const names = issue.keys.map((k) => JSON.stringify(truncateDetail(k, QUOTE)));
    message = `unknown ${where === "option" ? "option" : "field"}${names.length > 1 ? "s" : ""} ` +
      names.join(", ");
  } else if (issue.code === "invalid_type") {
    // A query string's value is text: say what it was, not only its type.
    const given = issue.path.reduce<unknown>(
      (v, p) => (v as Record<PropertyKey, unknown> | undefined)?.[p as PropertyKey],
      value,
    );
    if (typeof given === "string") {
      message = `expected ${issue.expected}, got ${JSON.stringify(truncateDetail(given, QUOTE))}`;
    }
  }
  message = truncateDetail(message, { maxChars: DETAIL_MAX_CHARS / 2 });
  const at = path ? `${where} ${path}` : where;
  throw new SaeError(semantic ? "invalid" : "malformed", `${at}: ${message}`);
}

/**
 * The JSON body of a JSON-only endpoint, validated by `schema`: 415 for any other Content-Type,
 * 413 over `maxBodyBytes`, 400 when it is not a JSON object or has the wrong structure, 422
 * for values out of range (see {@link validate}). The app's deps serve as the options.
 */
export async function jsonBody<T>(
  c: Context,
  schema: z.ZodType<T>,
  options: { readonly maxBodyBytes: number },
): Promise<T> {
  requireJson(c);
  return validate(schema, parseJsonObject(await readBody(c, options.maxBodyBytes)), {
    where: "body",
  });
}

/** 400 for a query parameter not in `allowed`, or one given twice (none are ignored). */
export function expectQuery(c: Context, allowed: readonly string[]): void {
  if (!c.req.url.includes("?")) return;
  const seen = new Set<string>();
  for (const name of new URL(c.req.url).searchParams.keys()) {
    if (seen.has(name)) throw new SaeError("malformed", `query parameter ${name} is given twice`);
    seen.add(name);
    if (!allowed.includes(name)) {
      throw new SaeError(
        "malformed",
        `unknown query parameter ${JSON.stringify(name.slice(0, 40))}` +
          (allowed.length
            ? ` (this route takes ${allowed.join(", ")})`
            : " (this route takes none)"),
      );
    }
  }
}

/** Options of {@link activationsBody}. */
export interface ActivationsBodyOptions {
  readonly maxBodyBytes: number;
  /** Query parameters of an .npy request that hold URL-encoded JSON (lists, objects). */
  readonly jsonKeys?: string[];
  /** Query parameters of an .npy request that hold comma lists. */
  readonly listKeys?: string[];
  /** Query parameters of an .npy request that stay text even when they look like numbers. */
  readonly stringKeys?: string[];
  /** A JSON `activations` may be one flat row [d] (read as [[d]]). */
  readonly flatRow?: boolean;
}

/**
 * The activations of a request (api.md "Activations in, results out") and its other fields,
 * unvalidated: from a JSON object, or an .npy array [rows, d_in] with the fields in the query
 * string (see {@link queryOptions}).
 */
export async function activationsRequest(
  c: Context,
  options: ActivationsBodyOptions,
): Promise<{ x: Matrix; options: Record<string, unknown>; form: RequestForm }> {
  const form = requestForm(c);
  const bytes = await readBody(c, options.maxBodyBytes);
  if (form === "npy") {
    const fields = queryOptions(c, options);
    if (Object.hasOwn(fields, "activations")) {
      throw new SaeError("malformed", "with an .npy body, the activations are the body");
    }
    return { x: npyMatrix(bytes, "activations"), options: fields, form };
  }
  const { activations: rows, ...rest } = parseJsonObject(bytes);
  if (rows === undefined) throw new SaeError("malformed", "body needs an `activations` field");
  const flat = options.flatRow && Array.isArray(rows) && typeof rows[0] === "number";
  return { x: jsonMatrix(flat ? [rows] : rows, "activations"), options: rest, form };
}

/**
 * {@link activationsRequest} with the other fields validated by `schema` (whose `activations`
 * the matrix stands for): the endpoints whose fields are all checked at once.
 */
export async function activationsBody<T extends { activations: unknown }>(
  c: Context,
  schema: z.ZodType<T>,
  options: ActivationsBodyOptions,
): Promise<{ body: T; x: Matrix; form: RequestForm }> {
  const req = await activationsRequest(c, options);
  const where = req.form === "npy" ? "option" : "body";
  const body = validate(schema, { ...req.options, activations: [] }, { where });
  return { body, x: req.x, form: req.form };
}

/**
 * Options carried in the query string next to an .npy body: scalars as plain values (numbers
 * where they look like one, except `stringKeys`), lists as comma lists (`listKeys`), structured
 * values as URL-encoded JSON (`jsonKeys`).
 */
export function queryOptions(
  c: Context,
  options: { jsonKeys?: string[]; listKeys?: string[]; stringKeys?: string[] },
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const url = new URL(c.req.url);
  for (const [key, raw] of url.searchParams) {
    if (Object.hasOwn(out, key)) {
      throw new SaeError("malformed", `query parameter ${key} is given twice`);
    }
    if (options.jsonKeys?.includes(key)) {
      try {
        out[key] = JSON.parse(raw);
      } catch {
        throw new SaeError("malformed", `query parameter ${key} must be URL-encoded JSON`);
      }
    } else if (options.listKeys?.includes(key)) {
      out[key] = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
    } else if (options.stringKeys?.includes(key)) {
      out[key] = raw;
    } else if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(raw)) {
      out[key] = Number(raw);
    } else {
      out[key] = raw;
    }
  }
  return out;
}
