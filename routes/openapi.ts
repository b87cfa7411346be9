/**
 * The OpenAPI 3.1 document, generated from the route table (operation.ts): every mounted
 * operation with its parameters, JSON and binary bodies, answers (errors included) and
 * examples. JSON schemas come from the zod schemas through zod's own `z.toJSONSchema`.
 * @module
 */

import { z } from "zod";
import { openApiPath, type Operation, type ResponseSpec } from "./operation.ts";
import { ProblemSchema } from "./schemas.ts";

/** JSON schema of a zod schema, requests as they are sent (`input`), answers as written. */
function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/** A media type's entry: a zod schema, or a description of text or binary content. */
function media(type: string, content: z.ZodType | string, io: "input" | "output") {
  if (content === ProblemSchema) return { schema: { $ref: "#/components/schemas/Problem" } };
  if (typeof content !== "string") return { schema: jsonSchema(content, io) };
  const text = type.startsWith("text/");
  return {
    schema: text
      ? { type: "string", description: content }
      : { type: "string", format: "binary", description: content },
  };
}

function responses(specs: Readonly<Record<number, ResponseSpec>>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(specs).map(([status, spec]) => [status, {
      description: spec.description,
      ...(spec.headers
        ? {
          headers: Object.fromEntries(
            Object.entries(spec.headers).map((
              [name, description],
            ) => [name, { description, schema: { type: "string" } }]),
          ),
        }
        : {}),
      ...(spec.content
        ? {
          content: Object.fromEntries(
            Object.entries(spec.content).map(([type, c]) => [type, media(type, c, "output")]),
          ),
        }
        : {}),
    }]),
  );
}

/** A name for each example, for `examples` maps. */
function exampleKey(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, "_");
}

function parameters(op: Operation): Record<string, unknown>[] {
  const path = Object.entries(op.request?.params ?? {}).map(([name, description]) => {
    const examples = (op.examples ?? []).filter((e) => e.params?.[name] !== undefined);
    return {
      name,
      in: "path",
      required: true,
      description,
      schema: { type: "string" },
      ...(examples.length
        ? {
          examples: Object.fromEntries(
            examples.map((e) => [exampleKey(e.name), { value: e.params![name] }]),
          ),
        }
        : {}),
    };
  });
  const query = (op.request?.query ?? []).map((q) => ({
    name: q.name,
    in: "query",
    required: false,
    description: q.description,
    schema: q.schema,
  }));
  return [...path, ...query];
}

function requestBody(op: Operation): Record<string, unknown> | undefined {
  const request = op.request;
  if (!request?.json && !request?.binary) return undefined;
  const content: Record<string, unknown> = {};
  if (request.json) {
    const examples = (op.examples ?? []).filter((e) => e.body !== undefined);
    content["application/json"] = {
      schema: jsonSchema(request.json, "input"),
      ...(examples.length
        ? {
          examples: Object.fromEntries(examples.map((e) => [exampleKey(e.name), {
            ...(e.summary ? { summary: e.summary } : {}),
            value: e.body,
          }])),
        }
        : {}),
    };
  }
  for (const [type, description] of Object.entries(request.binary ?? {})) {
    content[type] = media(type, description, "input");
  }
  return { required: true, content };
}

/** `post /v1/dictionaries/:id/encode` -> `post_v1_dictionaries_id_encode`. */
function operationId(op: Operation): string {
  return `${op.method}_${op.path.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_|_$/g, "")}`;
}

/** The document describing `operations`. */
export function openApiDocument(
  operations: readonly Operation[],
  options: { version: string },
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const path = openApiPath(op.path);
    const body = requestBody(op);
    const params = parameters(op);
    (paths[path] ??= {})[op.method] = {
      operationId: operationId(op),
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(body ? { requestBody: body } : {}),
      responses: responses(op.responses),
      ...(op.path.startsWith("/v1/") ? { security: [{}, { apiKey: [] }] } : {}),
    };
  }
  const tags = [...new Set(operations.map((op) => op.tag))].map((name) => ({ name }));
  return {
    openapi: "3.1.0",
    info: {
      title: "saeserve",
      version: options.version,
      description:
        "Serve sparse autoencoder dictionaries: encode, decode and steer model activations.",
    },
    tags,
    paths,
    components: {
      schemas: { Problem: jsonSchema(ProblemSchema, "output") },
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: "An API key, when the service is configured with keys ($SAESERVE_API_KEYS).",
        },
      },
    },
  };
}
