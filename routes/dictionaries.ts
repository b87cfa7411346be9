/**
 * GET /v1/dictionaries and GET /v1/dictionaries/{id}: what the store holds, described (aligned
 * dictionaries listed too, told apart by `kind`).
 * @module
 */

import type { AlignedSummary, DictionarySummary } from "../service/registry.ts";
import type { AppDeps } from "./deps.ts";
import { DEMO } from "./examples.ts";
import { AUTH_STATUSES, ID_PARAM, type Operation, pathParam, problems } from "./operation.ts";
import { DictionaryListSchema, DictionarySchema } from "./response_schemas.ts";

/** The JSON form of one dictionary (api.md field names). */
export function dictionaryJson(s: DictionarySummary): Record<string, unknown> {
  const d = s.description;
  return {
    id: s.id,
    kind: "dictionary",
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
    explanations: s.explanations,
    error: s.error,
  };
}

/** The JSON form of one aligned dictionary (GET /v1/aligned/{id}, listed with `kind`). */
export function alignedJson(s: AlignedSummary): Record<string, unknown> {
  return {
    id: s.id,
    kind: "aligned",
    format: "aligned",
    architecture: s.error ? undefined : "topk",
    d_sae: s.latents,
    latents: s.latents,
    k: s.k,
    streams: s.streams,
    loaded: s.loaded,
    metadata: s.sidecar,
    error: s.error,
  };
}

/** The operations listing and describing dictionaries. */
export function dictionaryOperations(deps: AppDeps): Operation[] {
  return [{
    method: "get",
    path: "/v1/dictionaries",
    tag: "dictionaries",
    summary: "List the dictionaries in the store",
    description: "Dictionaries not loaded yet are described from their config files; an " +
      "unreadable one is listed with its `error`. Aligned dictionaries follow, with `kind` " +
      '"aligned" (use them under /v1/aligned/{id}); the others have `kind` "dictionary".',
    responses: {
      200: { description: "the list", content: { "application/json": DictionaryListSchema } },
      ...problems(...AUTH_STATUSES, 503),
    },
    handler: async (c) => {
      const { dictionaries, aligned } = await deps.registry.catalog();
      return c.json({
        dictionaries: [...dictionaries.map(dictionaryJson), ...aligned.map(alignedJson)],
      });
    },
  }, {
    method: "get",
    path: "/v1/dictionaries/:id",
    tag: "dictionaries",
    summary: "Describe one dictionary, loading it if needed",
    description: "A dictionary not yet in memory is loaded first (as its first encode would), " +
      "so this also warms it up; one that cannot be loaded is a 503 with Retry-After.",
    request: { params: ID_PARAM },
    responses: {
      200: { description: "its metadata", content: { "application/json": DictionarySchema } },
      ...problems(...AUTH_STATUSES, 404, 503),
    },
    examples: [
      { name: "topk", params: { id: DEMO.topk } },
      { name: "jumprelu", params: { id: DEMO.jumprelu } },
      { name: "sparsify", params: { id: DEMO.sparsify } },
    ],
    handler: async (c) => {
      const id = pathParam(c, "id");
      (await deps.registry.acquire(id)).release();
      return c.json(dictionaryJson(await deps.registry.describe(id)));
    },
  }];
}
