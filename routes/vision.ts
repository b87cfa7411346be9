/**
 * Vision routes under /v1/dictionaries/{id}/: a feature's heatmap over one image's patch grid
 * as a PNG (optionally blended over the image), and the semantic probe (per-feature F1 of
 * "fires somewhere in the image" against image labels).
 * @module
 */

import { type Context, Hono } from "hono";
import { SaeError } from "../domain/errors.ts";
import { encodeRows } from "../domain/sae/sae.ts";
import { featureMap, imageCount } from "../domain/features/vision.ts";
import { requestSignal } from "./request_signal.ts";
import { jsonMatrix, parseJsonObject, readBody, requireJson, validate } from "./body.ts";
import type { AppDeps } from "./deps.ts";
import { checkHeatmap, checkSemanticProbe } from "./cost_checks.ts";
import { limitsOf } from "./limits.ts";
import { BACKEND_HEADER } from "./respond.ts";
import { HeatmapRequestSchema, SemanticProbeRequestSchema } from "./schemas.ts";

/** The vision routes. */
export function visionRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const json = async (c: Context) => {
    requireJson(c);
    return parseJsonObject(await readBody(c, deps.maxBodyBytes));
  };

  app.post("/:id/heatmap", async (c) => {
    const body = validate(HeatmapRequestSchema, await json(c), "body");
    const x = jsonMatrix(body.activations, "activations");
    const grid = { h: body.grid[0], w: body.grid[1], skip: body.skip_tokens };
    if (imageCount(x.rows, grid) !== 1) {
      throw new SaeError("invalid", "heatmap takes the tokens of one image");
    }
    let image: Uint8Array | undefined;
    if (body.image) {
      const b64 = body.image.replace(/^data:[^,]*,/, "");
      let bytes: Uint8Array;
      try {
        bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      } catch {
        throw new SaeError("malformed", "image must be base64 (or a data: URL)");
      }
      image = bytes;
    }
    const lease = await deps.registry.acquire(c.req.param("id"));
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
      const { codes } = await encodeRows(deps.backend, lease.prepared, x, { signal });
      const values = featureMap(codes, grid, { image: 0, feature: body.feature });
      // Decoding the image, drawing and PNG encoding run on a research worker.
      const png = await deps.jobs.run("heatmap", {
        values,
        grid,
        size: body.size ? { width: body.size[0], height: body.size[1] } : undefined,
        max: body.max,
        image,
        maxPixels: limitsOf(deps).maxImagePixels,
      }, { signal });
      c.header(BACKEND_HEADER, deps.backend.name);
      c.header("X-Saeserve-Max-Activation", String(values.reduce((m, v) => Math.max(m, v), 0)));
      return c.body(png, 200, { "content-type": "image/png" });
    } finally {
      lease.release();
    }
  });

  app.post("/:id/features/semantic-probe", async (c) => {
    const body = validate(SemanticProbeRequestSchema, await json(c), "body");
    const x = jsonMatrix(body.activations, "activations");
    const grid = { h: body.grid[0], w: body.grid[1], skip: body.skip_tokens };
    const images = imageCount(x.rows, grid);
    if (body.labels.length !== images) {
      throw new SaeError(
        "invalid",
        `labels has ${body.labels.length} entries for ${images} images`,
      );
    }
    if (!body.labels.every((v) => v === 0 || v === 1)) {
      throw new SaeError("invalid", "labels must be 0 or 1");
    }
    const lease = await deps.registry.acquire(c.req.param("id"));
    try {
      checkSemanticProbe(limitsOf(deps), lease.description, { rows: x.rows, top: body.top });
      const signal = requestSignal(c);
      const { codes } = await encodeRows(deps.backend, lease.prepared, x, {
        priority: "research",
        signal,
      });
      const scores = await deps.jobs.run("semantic_probe", {
        codes,
        grid,
        labels: body.labels,
        top: body.top ?? 50,
      }, { signal });
      c.header(BACKEND_HEADER, deps.backend.name);
      return c.json({ images, features: scores });
    } finally {
      lease.release();
    }
  });
  return app;
}
