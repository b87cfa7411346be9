/**
 * POST /v1/dictionaries/{id}/steering-vector: summed decoder directions as JSON, .npy or a
 * llama.cpp control-vector GGUF (the layer from the dictionary's hook, or `layer`).
 * @module
 */

import { steeringVector } from "../domain/features/feature_scores.ts";
import { encodeControlVector } from "../domain/io/gguf.ts";
import { SaeError } from "../domain/errors.ts";
import { encodeNpy } from "../domain/io/npy.ts";
import { decoderDirections } from "../domain/sae/steer.ts";
import { jsonBody } from "./body.ts";
import type { AppDeps } from "./deps.ts";
import { DEMO } from "./examples.ts";
import { checkFeatures, withDictionary } from "./feature_lease.ts";
import { checkSteerable } from "../domain/families/steerable.ts";
import { DICTIONARY_POST_ERRORS, ID_PARAM, type Operation, pathParam } from "./operation.ts";
import { BACKEND_HEADER } from "./respond.ts";
import { SteeringVectorResponseSchema } from "./response_schemas.ts";
import { SteeringVectorRequestSchema } from "./schemas.ts";

/**
 * llama.cpp layer of a residual-stream hook: blocks.L.hook_resid_post (or a bare blocks.L /
 * layers.L, a layer's output) -> L + 1, hook_resid_pre -> L; null for any other hook (an MLP
 * or attention output is not the residual stream a control vector is added to).
 */
export function layerOfHook(hook: string | undefined): number | null {
  const pattern =
    /(?:^|\.)(?:blocks|layers)\.(\d+)(?:\.(hook_resid_post|hook_resid_pre|hook_resid_mid))?$/;
  const m = pattern.exec(hook ?? "");
  if (!m) return null;
  const layer = Number(m[1]);
  return m[2] === "hook_resid_pre" ? layer : layer + 1;
}

/** The steering-vector operation. */
export function steeringVectorOperation(deps: AppDeps): Operation {
  const features = [{ feature: 17, strength: 4 }, { feature: 80, strength: -2 }];
  return {
    method: "post",
    path: "/v1/dictionaries/:id/steering-vector",
    tag: "features",
    summary: "Summed steering direction as JSON, .npy or a llama.cpp control-vector GGUF",
    request: { params: ID_PARAM, json: SteeringVectorRequestSchema },
    responses: {
      200: {
        description: "the vector in the requested format",
        content: {
          "application/json": SteeringVectorResponseSchema,
          "application/x-npy": "format npy: a 1-D .npy [d_in]",
          "application/octet-stream": "format gguf: a llama.cpp control vector (attachment)",
        },
        headers: { "X-Saeserve-Backend": "the backend that computed it" },
      },
      ...DICTIONARY_POST_ERRORS,
    },
    examples: [
      {
        name: "json",
        params: { id: DEMO.topk },
        body: { features, unit: "norm", format: "json" },
      },
      { name: "npy", params: { id: DEMO.topk }, body: { features, format: "npy" } },
      {
        name: "gguf",
        summary: "llama.cpp layer 7 from the hook blocks.6.hook_resid_post",
        params: { id: DEMO.topk },
        body: { features, normalize: true, format: "gguf" },
      },
    ],
    handler: async (c) => {
      const body = await jsonBody(c, SteeringVectorRequestSchema, deps);
      const id = pathParam(c, "id");
      const { vector, info } = await withDictionary(deps, async (lease, _head, info) => {
        const ids = body.features.map((f) => f.feature);
        checkFeatures(ids, lease.description.dSae);
        checkSteerable(lease.description, id); // 422: a transcoder's W_dec rows are output-space
        const dirs = await decoderDirections(
          { backend: deps.backend, prepared: lease.prepared },
          ids,
        );
        return {
          vector: steeringVector(body.features, {
            ...dirs,
            unit: body.unit,
            normalize: body.normalize,
          }),
          info,
        };
      }, { id, needHead: false });
      if (!vector.every(Number.isFinite)) {
        throw new SaeError("invalid", "the steering vector overflows float32: lower the strengths");
      }
      c.header(BACKEND_HEADER, deps.backend.name);
      if (body.format === "npy") {
        return c.body(encodeNpy(vector, [vector.length]), 200, {
          "content-type": "application/x-npy",
        });
      }
      if (body.format === "gguf") {
        const layer = body.layer ?? layerOfHook(info.hook);
        if (layer === null) {
          throw new SaeError(
            "invalid",
            `cannot tell the llama.cpp layer from hook ${JSON.stringify(info.hook)}: pass layer`,
          );
        }
        let bytes: Uint8Array<ArrayBuffer>;
        try {
          bytes = encodeControlVector(new Map([[layer, vector]]), { modelHint: info.model });
        } catch (e) {
          // llama.cpp's limits (layer range): the request's values, not a server fault.
          if (e instanceof RangeError) throw new SaeError("invalid", e.message, { cause: e });
          throw e;
        }
        const name = `${id.replaceAll("/", "_")}.gguf`;
        return c.body(bytes, 200, {
          "content-type": "application/octet-stream",
          "content-disposition": `attachment; filename="${name}"`,
        });
      }
      return c.json({
        d: vector.length,
        unit: body.unit,
        normalized: body.normalize,
        vector: Array.from(vector),
      });
    },
  };
}
