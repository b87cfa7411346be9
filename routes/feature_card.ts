/**
 * GET /v1/dictionaries/{id}/features/{feature}: one feature's card: its explanations and
 * Neuronpedia link, decoder norm, logit-lens top and bottom tokens (when the dictionary names a
 * model head), stored statistics, and the 10 features nearest by decoder cosine. Decoder rows
 * come from the backend (the WASM and WebGPU backends hold W_dec in their own memory), in
 * blocks of 16 MiB whose cosines a research job worker ranks.
 * @module
 */

import { headLogits } from "../domain/features/feature_scores.ts";
import { storedStatistics } from "../domain/features/explanations.ts";
import { featureDensity } from "../service/loaders/sparsity.ts";
import { lensExtremes, mergeNeighbours, type Neighbour } from "../domain/features/search_card.ts";
import { FormatError, SaeError } from "../domain/errors.ts";
import { matrix } from "../domain/sae/matrix.ts";
import { decoderDirections } from "../domain/sae/steer.ts";
import type { OnBackend } from "../domain/sae/sae.ts";
import { requestSignal } from "./request_signal.ts";
import type { AppDeps } from "./deps.ts";
import { DEMO } from "./examples.ts";
import { explainedJson } from "./explained.ts";
import { withDictionary } from "./feature_lease.ts";
import { AUTH_STATUSES, ID_PARAM, type Operation, pathParam, problems } from "./operation.ts";
import { BACKEND_HEADER } from "./respond.ts";
import { FeatureCardSchema } from "./feature_search_schemas.ts";

/** The explanations' stored statistics with the density file's values where they lack them. */
function withDensity(
  stored: Record<string, number> | undefined,
  density: Record<string, number> | undefined,
): Record<string, number> | undefined {
  if (!density) return stored;
  return { ...density, ...stored };
}

/** Neighbours and lens tokens on a card. */
const NEAREST = 10;
const LENS_TOKENS = 10;
/** Decoder rows fetched from the backend at a time for the nearest features. */
const BLOCK_BYTES = 16 << 20;

/** Options of {@link nearestByDecoder}. */
export interface NearestByDecoderOptions {
  /** The card's feature's unit decoder row. */
  readonly direction: Float32Array;
  /** The card's feature, left out. */
  readonly skip: number;
  readonly signal: AbortSignal;
  /** Bytes of W_dec read per block (default 16 MiB). */
  readonly blockBytes?: number;
}

/**
 * The `NEAREST` features whose decoder rows point most nearly along `options.direction`: W_dec
 * read from the backend block by block, each block ranked on a research job worker while the
 * next is read. An abort rejects with its reason; the block being ranked then is let go.
 */
export async function nearestByDecoder(
  deps: Pick<AppDeps, "jobs">,
  on: OnBackend,
  options: NearestByDecoderOptions,
): Promise<Neighbour[]> {
  const { dIn, dSae } = on.prepared.weights;
  const rows = Math.max(1, Math.floor((options.blockBytes ?? BLOCK_BYTES) / (dIn * 4)));
  const call = { priority: "research" as const, signal: options.signal };
  const lists: Neighbour[][] = [];
  let ranking: Promise<Neighbour[]> | null = null;
  for (let start = 0; start < dSae; start += rows) {
    const n = Math.min(rows, dSae - start);
    const block = await on.backend.decodeSparse(on.prepared, {
      width: dSae,
      indices: Array.from({ length: n }, (_, i) => Int32Array.of(start + i)),
      values: Array.from({ length: n }, () => Float32Array.of(1)),
    }, { ...call, bias: false });
    if (ranking) lists.push(await ranking);
    ranking = deps.jobs.run("nearest_rows", {
      block,
      direction: options.direction,
      options: { top: NEAREST, offset: start, skip: options.skip },
    }, { ...call, transfer: block.data.buffer instanceof ArrayBuffer ? [block.data.buffer] : [] });
    // Awaited on the next turn; should the next read fail first, its rejection is not unhandled
    // (which would end the process).
    ranking.catch(() => {});
  }
  if (ranking) lists.push(await ranking);
  return mergeNeighbours(lists, { top: NEAREST });
}

/** The feature-card operation (register it after the search, whose path it would shadow). */
export function featureCardOperation(deps: AppDeps): Operation {
  return {
    method: "get",
    path: "/v1/dictionaries/:id/features/:feature",
    tag: "features",
    summary: "A feature's card: explanations, decoder norm, logit lens, nearest features",
    description: "The logit lens (tokens the decoder row promotes and suppresses most, raw " +
      "logits) needs a dictionary whose saeserve.json names a model head; statistics come " +
      "from fields such as `density` stored with the explanations.",
    request: { params: { ...ID_PARAM, feature: "Feature index in [0, d_sae)." } },
    responses: {
      200: {
        description: "the card",
        content: { "application/json": FeatureCardSchema },
        headers: { "X-Saeserve-Backend": "the backend that computed it" },
      },
      ...problems(400, ...AUTH_STATUSES, 404, 422, 503),
    },
    examples: [{ name: "feature 1", params: { id: DEMO.topk, feature: "1" } }],
    handler: async (c) => {
      const id = pathParam(c, "id");
      const card = await withDictionary(deps, async (lease, _head, info) => {
        const raw = pathParam(c, "feature");
        if (!/^\d+$/.test(raw)) {
          throw new SaeError(
            "malformed",
            `the feature must be a non-negative integer, got "${raw}"`,
          );
        }
        const feature = Number(raw);
        const { dIn, dSae } = lease.prepared.weights;
        if (feature >= dSae) {
          throw new SaeError("invalid", `feature ${feature} outside [0, ${dSae})`);
        }
        const signal = requestSignal(c);
        const on = { backend: deps.backend, prepared: lease.prepared };
        const { directions, norms } = await decoderDirections(on, [feature], {
          priority: "research",
          signal,
        });
        const direction = directions.get(feature)!;
        const norm = norms.get(feature)!;
        let lens: ReturnType<typeof lensExtremes> | undefined;
        if (info.head) {
          const head = await deps.registry.acquireHead(info.head);
          try {
            if (head.head.dModel === dIn) {
              const row = matrix([1, dIn], direction.map((v) => v * norm));
              const logits = await headLogits(deps.backend, { head: head.head, x: row });
              lens = lensExtremes(logits.data, { top: LENS_TOKENS, tokens: head.head.tokens });
            }
          } finally {
            head.release();
          }
        }
        // SAELens' density file, when the folder has one (a broken one leaves it out).
        const density = await featureDensity(deps.registry.store, { id, feature, dSae }).catch(
          (e) => {
            if (e instanceof FormatError) return undefined;
            throw e;
          },
        );
        return {
          feature,
          norm,
          lens,
          density,
          nearest: await nearestByDecoder(deps, on, { direction, skip: feature, signal }),
        };
      }, { id, needHead: false });
      const explained = await deps.registry.acquireExplanations(id);
      try {
        const set = explained.set;
        c.header(BACKEND_HEADER, deps.backend.name);
        return c.json({
          dictionary: id,
          feature: card.feature,
          ...explainedJson(set, card.feature),
          decoder_norm: card.norm,
          logit_lens: card.lens,
          statistics: withDensity(
            storedStatistics(set.byFeature.get(card.feature) ?? []),
            card.density,
          ),
          nearest: card.nearest.map((n) => ({ ...n, ...explainedJson(set, n.feature) })),
        });
      } finally {
        explained.release();
      }
    },
  };
}
