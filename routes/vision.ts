/**
 * Vision routes under /v1/dictionaries/{id}/: a feature's heatmap over one image's patch grid
 * as a PNG (optionally blended over the image), and the semantic probe (per-feature F1 of
 * "fires somewhere in the image" against image labels).
 * @module
 */

import { SaeError } from "../domain/errors.ts";
import { encodeRows } from "../domain/sae/sae.ts";
import { featureMap, imageCount } from "../domain/features/vision.ts";
import { requestSignal } from "./request_signal.ts";
import { activationsBody } from "./body.ts";
import type { AppDeps } from "./deps.ts";
import { checkHeatmap, checkSemanticProbe } from "./feature_costs.ts";
import type { AppContext } from "./env.ts";
import { DEMO, demoRows } from "./examples.ts";
import {
  DICTIONARY_POST_ERRORS,
  ID_PARAM,
  NPY_BODY,
  npyQuery,
  type Operation,
  pathParam,
} from "./operation.ts";
import { SemanticProbeResponseSchema } from "./response_schemas.ts";
import { limitsOf } from "./limits.ts";
import { BACKEND_HEADER } from "./respond.ts";
import { binaryLabels, HeatmapRequestSchema, SemanticProbeRequestSchema } from "./schemas.ts";

/** The vision operations. */
export function visionOperations(deps: AppDeps): Operation[] {
  const image = demoRows(17); // 1 + 4 x 4 tokens
  return [{
    method: "post",
    path: "/v1/dictionaries/:id/heatmap",
    tag: "vision",
    summary: "A feature's heatmap over one image's patch grid, as a PNG",
    description: "Optionally blended over the image (PNG or JPEG, base64 or a data: URL).",
    request: {
      params: ID_PARAM,
      json: HeatmapRequestSchema,
      binary: NPY_BODY,
      query: [
        npyQuery("grid", { description: "URL-encoded JSON [h, w]" }),
        npyQuery("skip_tokens", { description: "leading tokens", type: "integer" }),
        npyQuery("feature", { description: "the feature", type: "integer" }),
        npyQuery("size", { description: "URL-encoded JSON [width, height]" }),
        npyQuery("max", { description: "the activation drawn brightest", type: "number" }),
        npyQuery("image", {
          description: "the image to blend over (base64 or a data: URL; small ones)",
        }),
      ],
    },
    responses: {
      200: {
        description: "the heatmap",
        content: {
          "image/png": "PNG, `size` or the image's size (16 px per patch without either)",
        },
        headers: {
          "X-Saeserve-Backend": "the backend that computed it",
          "X-Saeserve-Max-Activation": "the feature's largest activation over the grid",
        },
      },
      ...DICTIONARY_POST_ERRORS,
    },
    examples: [{
      name: "one image",
      params: { id: DEMO.topk },
      body: { activations: image, grid: [4, 4], skip_tokens: 1, feature: 17, size: [64, 64] },
    }],
    handler: (c) => heatmap(c, deps),
  }, {
    method: "post",
    path: "/v1/dictionaries/:id/features/semantic-probe",
    tag: "vision",
    summary: 'Semantic probe: per-feature F1 of "fires somewhere in the image" against labels',
    request: {
      params: ID_PARAM,
      json: SemanticProbeRequestSchema,
      binary: NPY_BODY,
      query: [
        npyQuery("grid", { description: "URL-encoded JSON [h, w]" }),
        npyQuery("skip_tokens", { description: "leading tokens per image", type: "integer" }),
        npyQuery("labels", { description: "URL-encoded JSON list, one 0 / 1 per image" }),
        npyQuery("top", { description: "features returned", type: "integer" }),
      ],
    },
    responses: {
      200: {
        description: "features by F1, best first",
        content: { "application/json": SemanticProbeResponseSchema },
        headers: { "X-Saeserve-Backend": "the backend that computed it" },
      },
      ...DICTIONARY_POST_ERRORS,
    },
    examples: [{
      name: "two images",
      params: { id: DEMO.topk },
      body: { activations: demoRows(34), grid: [4, 4], skip_tokens: 1, labels: [0, 1], top: 5 },
    }],
    handler: (c) => semanticProbe(c, deps),
  }];
}

async function heatmap(c: AppContext, deps: AppDeps): Promise<Response> {
  const { body, x } = await activationsBody(c, HeatmapRequestSchema, {
    maxBodyBytes: deps.maxBodyBytes,
    jsonKeys: ["grid", "size"],
    stringKeys: ["image"],
  });
  const grid = { h: body.grid[0], w: body.grid[1], skip: body.skip_tokens };
  if (imageCount(x.rows, grid) !== 1) {
    throw new SaeError("invalid", "heatmap takes the tokens of one image");
  }
  let image: Uint8Array<ArrayBuffer> | undefined;
  if (body.image) {
    const b64 = body.image.replace(/^data:[^,]*,/, "");
    try {
      // Native: atob and a per-character copy held the request thread 2 s for a 14 MB image.
      image = Uint8Array.fromBase64(b64);
    } catch {
      throw new SaeError("malformed", "image must be base64 (or a data: URL)");
    }
  }
  const lease = await deps.registry.acquire(pathParam(c, "id"));
  try {
    if (body.feature >= lease.description.dSae) {
      throw new SaeError(
        "invalid",
        `feature ${body.feature} outside [0, ${lease.description.dSae})`,
      );
    }
    // The image's size from its header, the output's size and the encode, before any work.
    checkHeatmap(limitsOf(deps), lease.description, { rows: x.rows, ...body, image });
    const signal = requestSignal(c);
    const { codes } = await encodeRows({ backend: deps.backend, prepared: lease.prepared }, x, {
      signal,
    });
    const values = featureMap(codes, grid, { image: 0, feature: body.feature });
    // Decoding the image, drawing and PNG encoding run on a research worker.
    // The image moves to the worker (it is not used here again): no copy on this thread.
    const png = await deps.jobs.run("heatmap", {
      values,
      grid,
      size: body.size ? { width: body.size[0], height: body.size[1] } : undefined,
      max: body.max,
      image,
      maxPixels: limitsOf(deps).maxImagePixels,
    }, { signal, transfer: image ? [image.buffer] : [] });
    c.header(BACKEND_HEADER, deps.backend.name);
    c.header("X-Saeserve-Max-Activation", String(values.reduce((m, v) => Math.max(m, v), 0)));
    return c.body(png, 200, { "content-type": "image/png" });
  } finally {
    lease.release();
  }
}

async function semanticProbe(c: AppContext, deps: AppDeps): Promise<Response> {
  const { body, x } = await activationsBody(c, SemanticProbeRequestSchema, {
    maxBodyBytes: deps.maxBodyBytes,
    jsonKeys: ["grid", "labels"],
  });
  const grid = { h: body.grid[0], w: body.grid[1], skip: body.skip_tokens };
  const images = imageCount(x.rows, grid);
  if (body.labels.length !== images) {
    throw new SaeError(
      "invalid",
      `labels has ${body.labels.length} entries for ${images} images`,
    );
  }
  const labels = binaryLabels(body.labels, "labels");
  const lease = await deps.registry.acquire(pathParam(c, "id"));
  try {
    checkSemanticProbe(limitsOf(deps), lease.description, { rows: x.rows, top: body.top });
    const signal = requestSignal(c);
    const { codes } = await encodeRows({ backend: deps.backend, prepared: lease.prepared }, x, {
      priority: "research",
      signal,
    });
    const scores = await deps.jobs.run("semantic_probe", {
      codes,
      grid,
      labels,
      top: body.top ?? 50,
    }, { signal });
    c.header(BACKEND_HEADER, deps.backend.name);
    return c.json({ images, features: scores });
  } finally {
    lease.release();
  }
}
