/**
 * POST /v1/probes/train and /v1/probes/predict: sparse SAE probes beside baselines, fitted in
 * one call and returned as stateless JSON documents the caller keeps.
 * @module
 */

import { z } from "zod";
import { SaeError } from "../domain/errors.ts";
import type { Matrix, SparseRows } from "../domain/sae/matrix.ts";
import type { ProbeDocument } from "../domain/probe/probes.ts";
import { requestSignal } from "./request_signal.ts";
import { encodeRows } from "../domain/sae/sae.ts";
import { activationsBody, validate } from "./body.ts";
import { jsonMatrix } from "./body_matrix.ts";
import type { AppDeps } from "./deps.ts";
import type { AppContext } from "./env.ts";
import { checkProbePredict, checkProbeTrain } from "./research_costs.ts";
import { DEMO, demoRows } from "./examples.ts";
import { AUTH_STATUSES, NPY_BODY, npyQuery, type Operation, problems } from "./operation.ts";
import { ProbePredictResponseSchema, ProbeTrainResponseSchema } from "./response_schemas.ts";
import { limitsOf } from "./limits.ts";
import {
  binaryLabels,
  ProbePredictRequestSchema,
  ProbeTrainRequestSchema as TrainRequestSchema,
} from "./schemas.ts";

function labels(values: readonly (number | boolean)[], rows: number, what: string): Uint8Array {
  if (values.length !== rows) {
    throw new SaeError(
      "invalid",
      `${what} has ${values.length} entries for ${rows} activation rows`,
    );
  }
  const y = Uint8Array.from(binaryLabels(values, what));
  const ones = y.reduce((n, v) => n + v, 0);
  if (ones === 0 || ones === rows) {
    throw new SaeError("invalid", `${what} holds a single class; probes need both`);
  }
  return y;
}

const Numbers = z.array(z.number());
const ScalerSchema = z.object({ mean: Numbers, scale: Numbers });
/**
 * A probe document as /train returns it. Callers send these back, so nothing in them is
 * trusted: wrong types are a 400 here, inconsistent sizes a 422 in `checkProbe`.
 */
const ProbeDocumentSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("logistic"),
    scaler: ScalerSchema,
    weights: Numbers,
    intercept: z.number(),
  }),
  z.object({
    kind: z.literal("pca"),
    scaler: ScalerSchema,
    mean: Numbers,
    components: z.array(Numbers),
    weights: Numbers,
    intercept: z.number(),
  }),
  z.object({
    kind: z.literal("knn"),
    scaler: ScalerSchema,
    k: z.number().int().min(1),
    x: z.array(Numbers).min(1),
    y: Numbers,
  }),
  z.object({
    kind: z.literal("sae"),
    dictionary: z.string().nullable(),
    latents: z.array(z.number().int().min(0)),
    scaler: ScalerSchema,
    weights: Numbers,
    intercept: z.number(),
  }),
]);

/**
 * 422 unless the document's sizes agree with each other and then with `cols` input columns
 * (an inconsistent document is named as such, not blamed on the activations).
 */
function checkProbe(probe: ProbeDocument, cols: number): void {
  const inputs = probe.kind === "sae" ? probe.latents.length : probe.scaler.mean.length;
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new SaeError("invalid", `the probe document is inconsistent: ${what}`);
  };
  need(
    probe.scaler.mean.length === inputs && probe.scaler.scale.length === inputs,
    `scaler has ${probe.scaler.mean.length} means and ${probe.scaler.scale.length} scales` +
      (probe.kind === "sae" ? ` for ${inputs} latents` : ""),
  );
  need(probe.scaler.scale.every((v) => v !== 0), "scaler scales must be non-zero");
  if (probe.kind === "logistic" || probe.kind === "sae") {
    need(
      probe.weights.length === inputs,
      `weights has ${probe.weights.length} entries, the scaler ${inputs}`,
    );
  } else if (probe.kind === "pca") {
    need(
      probe.mean.length === inputs,
      `mean has ${probe.mean.length} entries, the scaler ${inputs}`,
    );
    need(
      probe.components.every((c) => c.length === inputs),
      `each component needs ${inputs} entries`,
    );
    need(probe.weights.length === probe.components.length, "weights needs one entry per component");
  } else {
    need(probe.x.every((r) => r.length === inputs), `each row of x needs ${inputs} entries`);
    need(probe.y.length === probe.x.length, "y needs one label per row of x");
  }
  if (probe.kind !== "sae" && inputs !== cols) {
    throw new SaeError("invalid", `the probe expects ${inputs} columns, activations have ${cols}`);
  }
}

/** An encoder over a dictionary (research-class kernel calls), holding its lease until `release`. */
async function encoder(deps: AppDeps, id: string, signal: AbortSignal) {
  const lease = await deps.registry.acquire(id);
  return {
    dSae: lease.description.dSae,
    dIn: lease.description.dIn,
    encode: async (x: Matrix): Promise<SparseRows> =>
      (await encodeRows({ backend: deps.backend, prepared: lease.prepared }, x, {
        priority: "research",
        signal,
      })).codes,
    release: () => lease.release(),
  };
}

/** Errors of the probe routes (404: the sae method's dictionary). */
const PROBE_ERRORS = problems(400, ...AUTH_STATUSES, 404, 413, 415, 422, 503);

/** A logistic probe over two columns, as /train returns one. */
const LOGISTIC_PROBE = {
  kind: "logistic",
  scaler: { mean: [0.5, 0.5], scale: [0.4, 0.4] },
  weights: [2, 1.5],
  intercept: -0.2,
};

/** The probe operations. */
export function probeOperations(deps: AppDeps): Operation[] {
  const train: Operation = {
    method: "post",
    path: "/v1/probes/train",
    tag: "probes",
    summary: "Sparse SAE probes beside baselines (logistic, PCA, KNN), tuned by validation AUC",
    description: "Returns every method's scores and the best probe's document, which the caller " +
      "keeps and sends to /v1/probes/predict.",
    request: {
      json: TrainRequestSchema,
      binary: NPY_BODY,
      query: [
        npyQuery("labels", { description: "URL-encoded JSON list, one 0 / 1 per row" }),
        npyQuery("methods", { description: "URL-encoded JSON list of methods" }),
        npyQuery("dictionary", { description: "the dictionary id of the sae method" }),
        npyQuery("k", {
          description: "latents the sae method keeps: a number or a URL-encoded JSON list",
        }),
        npyQuery("test_activations", { description: "URL-encoded JSON rows (small test sets)" }),
        npyQuery("test_labels", { description: "URL-encoded JSON list, one per test row" }),
      ],
    },
    responses: {
      200: {
        description: "per-method AUCs, the best method's name and its probe document",
        content: { "application/json": ProbeTrainResponseSchema },
      },
      ...PROBE_ERRORS,
    },
    examples: [
      {
        name: "baselines",
        body: {
          activations: [[0.1, 0.2], [0.9, 1.0], [0.2, 0.1], [1.1, 0.8], [0.15, 0.3], [0.8, 0.9]],
          labels: [0, 1, 0, 1, 0, 1],
          methods: ["logistic", "knn"],
        },
      },
      {
        name: "sae",
        summary: "a sparse probe over demo-topk latents",
        body: {
          activations: demoRows(12),
          labels: [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
          dictionary: DEMO.topk,
          methods: ["sae", "logistic"],
          k: [1, 2],
        },
      },
    ],
    handler: (c) => trainHandler(c, deps),
  };
  const predict: Operation = {
    method: "post",
    path: "/v1/probes/predict",
    tag: "probes",
    summary: "Apply a probe document to activations",
    request: {
      json: ProbePredictRequestSchema,
      binary: NPY_BODY,
      query: [npyQuery("probe", { description: "the probe document as URL-encoded JSON" })],
    },
    responses: {
      200: {
        description: "the positive-class probability of each row",
        content: { "application/json": ProbePredictResponseSchema },
      },
      ...PROBE_ERRORS,
    },
    examples: [{
      name: "logistic",
      body: { probe: LOGISTIC_PROBE, activations: [[0.1, 0.2], [0.9, 1.0]] },
    }],
    handler: (c) => predictHandler(c, deps),
  };
  return [train, predict];
}

async function trainHandler(c: AppContext, deps: AppDeps): Promise<Response> {
  const { body, x } = await activationsBody(c, TrainRequestSchema, {
    maxBodyBytes: deps.maxBodyBytes,
    jsonKeys: ["labels", "test_activations", "test_labels", "methods", "normalized_selection", "k"],
    stringKeys: ["dictionary"],
  });
  const y = labels(body.labels, x.rows, "labels");
  let testX: Matrix | undefined;
  let testY: Uint8Array | undefined;
  if (body.test_activations || body.test_labels) {
    if (!body.test_activations || !body.test_labels) {
      throw new SaeError("invalid", "send test_activations and test_labels together");
    }
    testX = jsonMatrix(body.test_activations, "test_activations");
    if (testX.cols !== x.cols) {
      throw new SaeError(
        "invalid",
        `test_activations has ${testX.cols} columns, activations ${x.cols}`,
      );
    }
    testY = labels(body.test_labels, testX.rows, "test_labels");
  }
  const chosen = body.methods ??
    (body.dictionary
      ? ["sae", "logistic", "pca", "knn"] as const
      : ["logistic", "pca", "knn"] as const);
  const wantsSae = chosen.includes("sae");
  if (wantsSae && !body.dictionary) {
    throw new SaeError("invalid", "the sae method needs a dictionary");
  }
  if (body.dictionary && !wantsSae) {
    throw new SaeError(
      "invalid",
      `dictionary is used only by the sae method; add "sae" to methods (${
        chosen.join(", ")
      }) or leave methods out`,
    );
  }
  const signal = requestSignal(c);
  const enc = wantsSae ? await encoder(deps, body.dictionary!, signal) : null;
  try {
    if (enc) {
      if (enc.dIn !== x.cols) {
        throw new SaeError(
          "invalid",
          `activations have ${x.cols} columns, dictionary d_in is ${enc.dIn}`,
        );
      }
      const tooBig = body.k.find((k) => k > enc.dSae);
      if (tooBig !== undefined) {
        throw new SaeError(
          "invalid",
          `k ${tooBig} is larger than the dictionary's ${enc.dSae} latents`,
        );
      }
    }
    checkProbeTrain(limitsOf(deps), enc, {
      rows: x.rows,
      cols: x.cols,
      positives: y.reduce((n, v) => n + v, 0),
      testRows: testX?.rows ?? 0,
      methods: [...chosen],
      ks: wantsSae ? body.k : [],
    });
    // Codes come from the backend first; the fitting runs on a research worker.
    const codes = enc ? await enc.encode(x) : undefined;
    const testCodes = enc && testX ? await enc.encode(testX) : undefined;
    const { methods, best } = await deps.jobs.run("probe_train", {
      x,
      y,
      testX,
      testY,
      codes,
      testCodes,
      options: {
        methods: [...chosen],
        ks: body.k,
        dictionary: body.dictionary,
        penalty: body.penalty,
        normalizedSelection: body.normalized_selection,
        seed: body.seed,
      },
    }, { signal });
    const name = (
      m: { method: string; k?: number },
    ) => (m.k === undefined ? m.method : `${m.method}_k${m.k}`);
    return c.json({
      methods: methods.map((m) => ({
        method: m.method,
        name: name(m),
        k: m.k,
        val_auc: m.valAuc,
        test_auc: m.testAuc,
        params: m.params,
        latents: m.latents,
      })),
      best: name(best),
      probe: best.probe,
    });
  } finally {
    enc?.release();
  }
}

async function predictHandler(c: AppContext, deps: AppDeps): Promise<Response> {
  const { body, x } = await activationsBody(c, ProbePredictRequestSchema, {
    maxBodyBytes: deps.maxBodyBytes,
    jsonKeys: ["probe"],
  });
  if (!["logistic", "pca", "knn", "sae"].includes(body.probe.kind as string)) {
    throw new SaeError("invalid", "probe.kind must be logistic, pca, knn or sae");
  }
  const probe = validate(ProbeDocumentSchema, body.probe, { where: "probe" }) as ProbeDocument;
  checkProbe(probe, x.cols);
  const enc = probe.kind === "sae" && probe.dictionary
    ? await encoder(deps, probe.dictionary, requestSignal(c))
    : null;
  try {
    if (probe.kind === "sae" && !enc) {
      throw new SaeError("invalid", "this sae probe names no dictionary");
    }
    if (probe.kind === "sae" && enc) {
      const outside = probe.latents.find((l) => l >= enc.dSae);
      if (outside !== undefined) {
        throw new SaeError("invalid", `latent ${outside} outside [0, ${enc.dSae})`);
      }
    }
    checkProbePredict(limitsOf(deps), enc, {
      rows: x.rows,
      cols: x.cols,
      components: probe.kind === "pca" ? probe.components.length : undefined,
      neighbours: probe.kind === "knn" ? probe.x.length : undefined,
    });
    const codes = enc ? await enc.encode(x) : undefined;
    const p = await deps.jobs.run("probe_predict", { probe, x, codes }, {
      signal: requestSignal(c),
    });
    return c.json({ probabilities: Array.from(p) });
  } finally {
    enc?.release();
  }
}
