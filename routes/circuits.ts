/**
 * POST /v1/circuits/discover: which attention heads form the circuit, from head outputs of a
 * few positive (task) and negative (corrupted) prompts. JSON, or a 3-D .npy body with labels,
 * head names, ground truth and options in the query string.
 * @module
 */

import type { z } from "zod";
import {
  circuitDocument,
  discoverOptionsProblem,
  type HeadOutputs,
  type OptionNames,
} from "../domain/features/circuits.ts";
import { requestSignal } from "./request_signal.ts";
import { SaeError } from "../domain/errors.ts";
import { decodeNpy } from "../domain/io/npy.ts";
import { parseJsonObject, queryOptions, readBody, requestForm, validate } from "./body.ts";
import type { AppDeps } from "./deps.ts";
import { checkCircuit } from "./research_costs.ts";
import type { AppContext } from "./env.ts";
import { AUTH_STATUSES, type Operation, problems } from "./operation.ts";
import { CircuitResponseSchema } from "./response_schemas.ts";
import { limitsOf } from "./limits.ts";
import { binaryLabels, CircuitOptionsSchema, CircuitRequestSchema } from "./schemas.ts";

/** The options as a request names them, in 422 details (e.g. "lower options.lr"). */
const OPTION_NAMES: OptionNames = {
  latents: "options.latents",
  l1: "options.l1",
  epochs: "options.epochs",
  lr: "options.lr",
  trainExamples: "options.train_examples",
};

/** Head outputs from nested JSON arrays, checked rectangular and finite. */
function fromJson(rows: number[][][]): HeadOutputs {
  const examples = rows.length;
  const heads = rows[0]?.length ?? 0;
  const dModel = rows[0]?.[0]?.length ?? 0;
  if (!examples || !heads || !dModel) {
    throw new SaeError("invalid", "head_outputs must be [examples, heads, d_model], non-empty");
  }
  const data = new Float32Array(examples * heads * dModel);
  rows.forEach((e, i) => {
    if (e.length !== heads) {
      throw new SaeError("invalid", `example ${i} has ${e.length} heads, not ${heads}`);
    }
    e.forEach((h, j) => {
      if (h.length !== dModel) {
        throw new SaeError(
          "invalid",
          `example ${i} head ${j} has ${h.length} values, not ${dModel}`,
        );
      }
      data.set(h, (i * heads + j) * dModel);
    });
  });
  if (!data.every(Number.isFinite)) {
    throw new SaeError("invalid", "head_outputs holds NaN or infinite values");
  }
  return { examples, heads, dModel, data };
}

/** Example head outputs: 8 prompts (alternately task and corrupted) x 4 heads x d_model 4. */
function exampleHeads(): number[][][] {
  return Array.from(
    { length: 8 },
    (_, e) =>
      Array.from({ length: 4 }, (_, h) =>
        Array.from({ length: 4 }, (_, d) => {
          const signal = e % 2 === 0 && h < 2 ? 1 : 0;
          return Math.round((signal + Math.sin((e + 1) * (h + 2) * (d + 3)) * 0.3) * 1000) / 1000;
        })),
  );
}

/** The circuit-discovery operation. */
export function circuitOperation(deps: AppDeps): Operation {
  return {
    method: "post",
    path: "/v1/circuits/discover",
    tag: "circuits",
    summary:
      "Which attention heads form the circuit, from head outputs of task and corrupted prompts",
    description: "JSON, or a 3-D .npy body [examples, heads, d_model] with labels, head_names, " +
      "ground_truth and options as URL-encoded JSON query parameters.",
    request: {
      json: CircuitRequestSchema,
      binary: { "application/x-npy": ".npy array [examples, heads, d_model]" },
      query: ["labels", "head_names", "ground_truth", "options"].map((name) => ({
        name,
        description: `with an .npy body: ${name} as URL-encoded JSON`,
        schema: { type: "string" },
      })),
    },
    responses: {
      200: {
        description: "heads by node score, edges, ROC AUC against ground_truth, timings",
        content: { "application/json": CircuitResponseSchema },
      },
      ...problems(400, ...AUTH_STATUSES, 413, 415, 422, 503),
    },
    examples: [{
      name: "four heads",
      body: {
        head_outputs: exampleHeads(),
        labels: [1, 0, 1, 0, 1, 0, 1, 0],
        head_names: ["L0H0", "L0H1", "L1H0", "L1H1"],
        ground_truth: [0, 1],
        options: { latents: 8, epochs: 20, train_examples: 4 },
      },
    }],
    handler: (c) => discover(c, deps),
  };
}

async function discover(c: AppContext, deps: AppDeps): Promise<Response> {
  const form = requestForm(c);
  const bytes = await readBody(c, deps.maxBodyBytes);
  let x: HeadOutputs;
  let labels: number[];
  let names: string[] | undefined;
  let truth: number[] | undefined;
  let rawOptions: unknown;
  if (form === "npy") {
    const t = decodeNpy(bytes, { maxBytes: bytes.byteLength });
    if (t.shape.length !== 3) {
      throw new SaeError(
        "invalid",
        `the .npy body must be 3-D [examples, heads, d_model], got (${t.shape})`,
      );
    }
    if (!t.data.every(Number.isFinite)) {
      throw new SaeError("invalid", "head_outputs holds NaN or infinite values");
    }
    x = { examples: t.shape[0], heads: t.shape[1], dModel: t.shape[2], data: t.data };
    const q = queryOptions(c, { jsonKeys: ["labels", "head_names", "ground_truth", "options"] });
    const rawLabels = q.labels as (number | boolean)[];
    names = q.head_names as string[] | undefined;
    truth = q.ground_truth as number[] | undefined;
    rawOptions = q.options;
    const extra = Object.keys(q).filter((k) =>
      !["labels", "head_names", "ground_truth", "options"].includes(k)
    );
    if (extra.length) throw new SaeError("malformed", `unknown query parameter ${extra[0]}`);
    validate(CircuitRequestSchema.pick({ labels: true, head_names: true, ground_truth: true }), {
      labels: rawLabels,
      head_names: names,
      ground_truth: truth,
    }, { where: "query" });
    labels = binaryLabels(rawLabels, "labels");
  } else {
    const body = validate(CircuitRequestSchema, parseJsonObject(bytes), { where: "body" });
    x = fromJson(body.head_outputs);
    labels = binaryLabels(body.labels, "labels");
    names = body.head_names;
    truth = body.ground_truth;
    rawOptions = body.options;
  }
  const options = validate(CircuitOptionsSchema, rawOptions ?? {}, { where: "options" });
  if (labels.length !== x.examples) {
    throw new SaeError(
      "invalid",
      `labels has ${labels.length} entries for ${x.examples} examples`,
    );
  }
  if (!labels.includes(1) || !labels.includes(0)) {
    throw new SaeError("invalid", "labels need both positives and negatives");
  }
  if (names && names.length !== x.heads) {
    throw new SaeError("invalid", `head_names has ${names.length} names for ${x.heads} heads`);
  }
  if (truth?.some((h) => h >= x.heads)) {
    throw new SaeError("invalid", `ground_truth names a head outside [0, ${x.heads})`);
  }
  // Heads, ground truth, training and scoring work, and the answer within budget.
  truth = checkCircuit(limitsOf(deps), x, {
    epochs: options.epochs,
    latents: options.latents,
    trainExamples: options.train_examples,
    groundTruth: truth,
  });
  // Absent, train_examples is 10 or every example when fewer; given, at most the examples.
  const given = (rawOptions as { train_examples?: unknown } | undefined)?.train_examples;
  const settings = {
    latents: options.latents,
    l1: options.l1,
    epochs: options.epochs,
    lr: options.lr,
    trainExamples: given === undefined ? undefined : options.train_examples,
    seed: options.seed,
    optionNames: OPTION_NAMES,
  };
  // The rules the CLI applies too (e.g. train_examples at most the examples given).
  const problem = discoverOptionsProblem(x, settings);
  if (problem) throw new SaeError("invalid", problem);
  // Training and scoring run on a research worker, abandoned when the request is.
  const result = await deps.jobs.run("circuits_discover", {
    x,
    // A diverging run fails there as a 422 naming options.lr.
    options: { ...settings, labels, groundTruth: truth },
  }, { signal: requestSignal(c) });
  // The schema documents what the domain writes: a drift between them fails to compile here.
  const answer: z.infer<typeof CircuitResponseSchema> = circuitDocument(result, { names });
  return c.json(answer);
}
