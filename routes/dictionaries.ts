/**
 * GET /v1/dictionaries and GET /v1/dictionaries/{id}: what the store holds, described.
 * @module
 */

import { Hono } from "hono";
import type { DictionarySummary } from "../service/registry.ts";
import type { AppDeps } from "./deps.ts";

/** The JSON form of one dictionary (api.md field names). */
export function dictionaryJson(s: DictionarySummary): Record<string, unknown> {
  const d = s.description;
  return {
    id: s.id,
    format: s.format,
    architecture: d?.architecture,
    d_in: d?.dIn,
    d_sae: d?.dSae,
    loaded: s.loaded,
    dtype: d?.dtype,
    k: d?.k,
    normalize_activations: d?.normalization,
    apply_b_dec_to_input: d?.applyBDecToInput,
    rescale_acts_by_decoder_norm: d?.rescaleByDecoderNorm,
    skip_connection: d?.skipConnection,
    transcoder: d?.transcoder,
    hook_name: d?.hookName ?? (s.sidecar?.hook as string | undefined),
    model_name: d?.modelName ?? (s.sidecar?.model as string | undefined),
    weight_bytes: d?.weightBytes,
    metadata: s.sidecar,
    error: s.error,
  };
}

/** Routes listing and describing dictionaries. */
export function dictionaryRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/", async (c) => {
    const list = await deps.registry.list();
    return c.json({ dictionaries: list.map(dictionaryJson) });
  });
  app.get("/:id", async (c) => {
    const summary = await deps.registry.describe(c.req.param("id"));
    return c.json(dictionaryJson(summary));
  });
  return app;
}
