/**
 * Valid request templates for the hostile stream, each field annotated with what it means so
 * that a mutation is known to make the request invalid.
 * @module
 */

/** The fixture dictionaries the templates address. */
export const DICTS = ["saelens_standard", "gemma_scope", "sparsify_topk", "steer_rms"] as const;
/** The one fixture dictionary whose saeserve.json names a model head and before_final_norm. */
export const HEADED = "steer_rms";

/** How a numeric leaf may be broken. */
export type NumRole =
  | "cell" // a finite f32 matrix entry
  | "scalar" // a finite steering value / factor / strength
  | "f64" // a probe-document number (f64, any finite value)
  | "feature" // an int in [0, d_sae)
  | "position" // an int in [0, rows)
  | "tokenId" // an int >= 0
  | "exampleId" // any int
  | "count" // an int >= 1 (top, top_rows, max_examples, k)
  | "top1000" // an int in [1, 1000]
  | "label" // 0 or 1
  | "layer" // an int >= 1 that llama.cpp can address
  | "seed"; // any int

/** What a field means, as far as breaking it goes. */
export interface Annotation {
  readonly num?: NumRole;
  /** An array that must not be empty (emptying it is a 422). */
  readonly nonEmpty?: boolean;
  /** A key that must be present (dropping it is a 400). */
  readonly required?: boolean;
  /** A rows x columns matrix whose width is fixed (by the dictionary or the probe). */
  readonly matrix?: "fixed";
  /** An object that refuses unknown keys. */
  readonly strict?: boolean;
  /** Contents not checked structurally: only type breaks at the annotated leaves apply. */
  readonly opaque?: boolean;
}

/** A valid request and the annotations of its fields. */
export interface Template {
  readonly name: string;
  readonly path: string;
  readonly body: Record<string, unknown>;
  /** Path patterns ("activations.*.*") to annotations; the root "" is the body. */
  readonly notes: Record<string, Annotation>;
}

/** A dictionary's input and latent widths. */
export interface Dims {
  readonly dIn: number;
  readonly dSae: number;
}

/** What the generators draw from: the templates and each dictionary's dimensions. */
export interface Context {
  readonly templates: Template[];
  readonly dims: Record<string, Dims>;
}

/** A row of `d` deterministic values (`salt` varies it). */
export function row(d: number, salt = 0): number[] {
  return Array.from({ length: d }, (_, i) => Math.round(Math.sin(i * 1.7 + salt) * 1000) / 1000);
}
/** `n` rows of width `d`, each salted differently. */
export function rows(n: number, d: number): number[][] {
  return Array.from({ length: n }, (_, r) => row(d, r + 1));
}

/** A rows x columns activation matrix whose width the dictionary or probe fixes. */
function matrixNotes(key: string): Record<string, Annotation> {
  return {
    [key]: { matrix: "fixed" as const, nonEmpty: true, required: true },
    [`${key}.*`]: { nonEmpty: true },
    [`${key}.*.*`]: { num: "cell" as const },
  };
}

/** One template per route and fixture dictionary, with `probes` as trained probe documents. */
export function templates(
  dims: Record<string, Dims>,
  probes: { logistic: unknown; sae: unknown },
): Template[] {
  const out: Template[] = [];
  const root: Annotation = { strict: true };
  for (const id of DICTS) {
    const { dIn, dSae } = dims[id];
    const base = `/v1/dictionaries/${id}`;
    out.push({
      name: "encode",
      path: `${base}/encode`,
      body: { activations: rows(2, dIn), top: 3, include: ["reconstruction", "metrics"] },
      notes: {
        "": root,
        ...matrixNotes("activations"),
        top: { num: "count" },
      },
    });
    out.push({
      name: "decode sparse",
      path: `${base}/decode`,
      body: { indices: [[0, dSae - 1], [2]], values: [[1.5, -0.5], [2]] },
      notes: {
        "": root,
        indices: { required: true, nonEmpty: true },
        "indices.*.*": { num: "feature" },
        values: { required: true, nonEmpty: true },
        "values.*.*": { num: "cell" },
      },
    });
    out.push({
      name: "decode dense",
      path: `${base}/decode`,
      body: { codes: rows(2, dSae) },
      notes: { "": root, ...matrixNotes("codes") },
    });
    out.push({
      name: "steer",
      path: `${base}/steer`,
      body: {
        activations: rows(2, dIn),
        interventions: [
          { feature: 1, mode: "add", value: 2, positions: [0, 1] },
          { feature: dSae - 1, mode: "clamp", value: 0.5, when: { feature: 0, op: ">", value: 0 } },
        ],
      },
      notes: {
        "": root,
        ...matrixNotes("activations"),
        interventions: { required: true, nonEmpty: true },
        "interventions.*": { strict: true },
        "interventions.*.feature": { num: "feature", required: true },
        "interventions.*.mode": { required: true },
        "interventions.*.value": { num: "scalar" },
        "interventions.*.positions.*": { num: "position" },
        "interventions.*.when": { strict: true },
        "interventions.*.when.feature": { num: "feature", required: true },
        "interventions.*.when.op": { required: true },
        "interventions.*.when.value": { num: "scalar", required: true },
      },
    });
    out.push({
      name: "output-score/prepare",
      path: `${base}/features/output-score/prepare`,
      body: { features: [0, dSae - 1], activations: row(dIn), factor: 4 },
      notes: {
        "": root,
        features: { required: true, nonEmpty: true },
        "features.*": { num: "feature" },
        activations: { required: true, nonEmpty: true },
        "activations.*": { num: "cell" },
        factor: { num: "scalar" },
      },
    });
    out.push({
      name: "stats",
      path: `${base}/features/stats`,
      body: { activations: rows(3, dIn), token_ids: [5, 6, 7], features: [0, 3], top_rows: 2 },
      notes: {
        "": root,
        ...matrixNotes("activations"),
        "token_ids.*": { num: "tokenId" },
        "features.*": { num: "feature" },
        top_rows: { num: "top1000" },
      },
    });
    out.push({
      name: "steering-vector",
      path: `${base}/steering-vector`,
      body: {
        features: [{ feature: 0, strength: 2 }, { feature: dSae - 1, strength: -1 }],
        unit: "norm",
        normalize: true,
        format: "gguf",
        layer: 3,
      },
      notes: {
        "": root,
        features: { required: true, nonEmpty: true },
        "features.*": { strict: true },
        "features.*.feature": { num: "feature", required: true },
        "features.*.strength": { num: "scalar", required: true },
        layer: { num: "layer" },
      },
    });
  }
  const { dIn, dSae } = dims[HEADED];
  const base = `/v1/dictionaries/${HEADED}`;
  out.push({
    name: "logit-lens",
    path: `${base}/features/logit-lens`,
    body: { features: [0, 1, dSae - 1], top: 5 },
    notes: {
      "": root,
      features: { required: true, nonEmpty: true },
      "features.*": { num: "feature" },
      top: { num: "top1000" },
    },
  });
  out.push({
    name: "input-score",
    path: `${base}/features/input-score`,
    body: {
      features: [0, 2],
      activations: rows(3, dIn),
      token_ids: [1, 2, 3],
      example_ids: [0, 0, 1],
      top: 5,
      max_examples: 10,
    },
    notes: {
      "": root,
      features: { required: true, nonEmpty: true },
      "features.*": { num: "feature" },
      ...matrixNotes("activations"),
      token_ids: { required: true, nonEmpty: true },
      "token_ids.*": { num: "tokenId" },
      example_ids: { required: true, nonEmpty: true },
      "example_ids.*": { num: "exampleId" },
      top: { num: "top1000" },
      max_examples: { num: "count" },
    },
  });
  out.push({
    name: "output-score",
    path: `${base}/features/output-score`,
    body: { features: [0, 1], activations: row(dIn), factor: 4, top: 5 },
    notes: {
      "": root,
      features: { required: true, nonEmpty: true },
      "features.*": { num: "feature" },
      "activations.*": { num: "cell" },
      factor: { num: "scalar" },
      top: { num: "top1000" },
    },
  });
  const d = dims.saelens_standard.dIn;
  out.push({
    name: "probes/train",
    path: "/v1/probes/train",
    body: {
      activations: rows(8, d),
      labels: [0, 1, 0, 1, 0, 1, 0, 1],
      methods: ["sae", "logistic"],
      dictionary: "saelens_standard",
      k: [1, 2],
      seed: 3,
    },
    notes: {
      "": root,
      ...matrixNotes("activations"),
      labels: { required: true, nonEmpty: true },
      "labels.*": { num: "label" },
      methods: { nonEmpty: true },
      "k.*": { num: "count" },
      seed: { num: "seed" },
    },
  });
  const probeNotes = (prefix: string): Record<string, Annotation> => ({
    [`${prefix}.scaler.mean.*`]: { num: "f64" },
    [`${prefix}.scaler.scale.*`]: { num: "f64" },
    [`${prefix}.weights.*`]: { num: "f64" },
    [`${prefix}.latents.*`]: { num: "feature" },
    [prefix]: { required: true, opaque: true },
    [`${prefix}.kind`]: { required: true },
    [`${prefix}.scaler`]: { required: true },
    [`${prefix}.scaler.mean`]: { required: true },
    [`${prefix}.scaler.scale`]: { required: true },
    [`${prefix}.weights`]: { required: true },
    [`${prefix}.intercept`]: { num: "f64", required: true },
    [`${prefix}.latents`]: { required: true },
    [`${prefix}.dictionary`]: { required: true },
  });
  out.push({
    name: "probes/predict logistic",
    path: "/v1/probes/predict",
    body: { probe: probes.logistic, activations: rows(3, d) },
    notes: { "": root, ...matrixNotes("activations"), ...probeNotes("probe") },
  });
  out.push({
    name: "probes/predict sae",
    path: "/v1/probes/predict",
    body: { probe: probes.sae, activations: rows(3, d) },
    notes: { "": root, ...matrixNotes("activations"), ...probeNotes("probe") },
  });
  return out;
}

/** The dimensions of the dictionary `t` addresses (saelens_standard's for the probe routes). */
export function dimsOf(ctx: Context, t: Template): Dims {
  const id = /\/v1\/dictionaries\/([^/]+)/.exec(t.path)?.[1] ?? "saelens_standard";
  return ctx.dims[id] ?? ctx.dims.saelens_standard;
}
