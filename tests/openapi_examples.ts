/**
 * The request examples /openapi.json documents, ready to send: for tests that try every
 * endpoint's examples in some changed form (as .npy, at the f32 limit).
 * @module
 */

import type { Hono } from "hono";

interface Param {
  name: string;
  in: string;
  description?: string;
  examples?: Record<string, { value: string }>;
}

interface Op {
  parameters?: Param[];
  requestBody?: { content: Record<string, { examples?: Record<string, { value: unknown }> }> };
}

/** One documented JSON request example. */
export interface DocumentedExample {
  readonly method: string;
  /** The OpenAPI path, e.g. /v1/dictionaries/{id}/encode. */
  readonly path: string;
  readonly name: string;
  /** The path with the example's parameters filled in. */
  readonly url: string;
  readonly body: Record<string, unknown>;
  /** The operation's query parameters (the options of its .npy form). */
  readonly query: readonly Param[];
  /** Media types its request body may have. */
  readonly media: readonly string[];
}

/** Every JSON request example of `app`'s /openapi.json, in document order. */
export async function documentedExamples(app: Hono): Promise<DocumentedExample[]> {
  const doc = await (await app.request("/openapi.json")).json();
  const out: DocumentedExample[] = [];
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Op>>)) {
    for (const [method, op] of Object.entries(ops)) {
      const content = op.requestBody?.content ?? {};
      const params = op.parameters ?? [];
      for (const [name, example] of Object.entries(content["application/json"]?.examples ?? {})) {
        const url = path.replace(/\{(\w+)\}/g, (_, p) =>
          encodeURIComponent(
            params.find((x) => x.in === "path" && x.name === p)?.examples?.[name]?.value ?? "x",
          ));
        out.push({
          method,
          path,
          name,
          url,
          body: example.value as Record<string, unknown>,
          query: params.filter((p) => p.in === "query"),
          media: Object.keys(content),
        });
      }
    }
  }
  return out;
}
