/**
 * Per-feature explanations read from a file beside a dictionary: Neuronpedia's explanation
 * export (a JSON array, or JSON Lines, of objects with `index` and `description`; its other
 * fields such as `modelId`, `layer`, `explanationModelName` and `typeName` are kept as
 * metadata) and saeserve's minimal form (`{"feature": i, "text": "..."}` lines), plain or
 * gzipped. Several explanations per feature are allowed. Nothing here throws on bad content:
 * a malformed line, an entry without an index or a text, or an index outside [0, d_sae) is
 * skipped with a warning.
 * @module
 */

import { runAtOnce, runInSlices, type Steps } from "./search_slices.ts";

/** The file names read, in order of preference (the first present is used). */
export const EXPLANATION_FILES = [
  "explanations.json",
  "explanations.json.gz",
  "explanations.jsonl",
] as const;

/** Decompressed text beyond this many bytes is not read (a warning instead). */
export const MAX_EXPLANATION_BYTES = 1 << 30;

/** Warnings listed one by one before the rest are counted. */
const SHOWN_WARNINGS = 10;

/** Fields that name an explanation's feature or text rather than describe it. */
const OWN_FIELDS = new Set(["index", "feature", "description", "text", "explanation"]);

/** One explanation of one feature. */
export interface Explanation {
  readonly feature: number;
  readonly text: string;
  /** The entry's other fields (Neuronpedia: modelId, layer, explanationModelName, ...). */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** What a file held: its explanations by feature, and what was wrong with it. */
export interface ExplanationSet {
  /** The file read, or undefined when the folder has none. */
  readonly file?: string;
  /** Explanations of each feature that has any, in file order. */
  readonly byFeature: ReadonlyMap<number, readonly Explanation[]>;
  /** Number of explanations kept. */
  readonly count: number;
  /** What was skipped and why (the first few one by one, then a count). */
  readonly warnings: readonly string[];
  /** Neuronpedia source (SAELens cfg.json `neuronpedia_id`), when known. */
  readonly neuronpediaId?: string;
}

/** An empty set (a dictionary without explanations), with optional warnings. */
export function emptyExplanations(warnings: readonly string[] = []): ExplanationSet {
  return { byFeature: new Map(), count: 0, warnings };
}

/** The explanation file a folder holds (first of {@link EXPLANATION_FILES}), if any. */
export function explanationFileOf(names: Iterable<string>): string | undefined {
  const set = new Set(names);
  return EXPLANATION_FILES.find((f) => set.has(f));
}

/** The file's bytes as text: gunzipped when the name ends in .gz, at most `maxBytes`. */
export async function explanationText(
  bytes: Uint8Array,
  options: { file: string; maxBytes?: number },
): Promise<string> {
  const max = options.maxBytes ?? MAX_EXPLANATION_BYTES;
  if (!options.file.endsWith(".gz")) {
    if (bytes.length > max) throw new RangeError(`${options.file} is over ${max} bytes`);
    return new TextDecoder().decode(bytes);
  }
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > max) throw new RangeError(`${options.file} decompresses to over ${max} bytes`);
    parts.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return new TextDecoder().decode(out);
}

/** A feature index from a number or a decimal string (Neuronpedia writes strings). */
function indexOf(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) ? value : undefined;
  // A negative one is read, to be told it is out of range rather than missing.
  if (typeof value === "string" && /^-?\d+$/.test(value.trim())) return Number(value.trim());
  return undefined;
}

/** Entries read, or checked, between two yields of the parsing steps. */
const ENTRIES_PER_STEP = 512;

/**
 * The entries of the text: a JSON array, an object holding one under "explanations" (as some
 * exports wrap it), or one JSON value per line.
 */
function* entriesOf(text: string, warn: (w: string) => void): Steps<[string, unknown][]> {
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{")) {
    // The list first in its object: split in steps as a bare array is (a whole JSON.parse of a
    // million entries would hold the thread for seconds); otherwise the whole parse.
    const head = /^\{\s*"explanations"\s*:\s*(?=\[)/.exec(trimmed);
    const inner = head ? trimmed.slice(head[0].length, trimmed.lastIndexOf("]") + 1) : "";
    const elements = inner ? yield* arrayElements(inner) : null;
    const wrapped = elements ?? wrappedList(trimmed);
    if (wrapped) return wrapped.map((v, n) => [`explanations[${n}]`, v]);
  }
  if (trimmed.startsWith("[")) {
    const elements = yield* arrayElements(trimmed);
    if (elements) return elements.map((v, n) => [`entry ${n}`, v]);
    try {
      // Not an array of JSON values: the whole parse says why (or reads what the split missed).
      const array = JSON.parse(trimmed) as unknown[];
      return array.map((v, n) => [`entry ${n}`, v]);
    } catch (e) {
      warn(`not valid JSON (${(e as Error).message}); no explanations read`);
      return [];
    }
  }
  const out: [string, unknown][] = [];
  for (let n = 0, at = 0; at <= text.length; n++) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    const line = text.slice(at, end).trim();
    at = end + 1;
    if (n % ENTRIES_PER_STEP === 0) yield;
    if (line === "") continue;
    try {
      out.push([`line ${n + 1}`, JSON.parse(line)]);
    } catch {
      warn(`line ${n + 1}: not valid JSON`);
    }
  }
  return out;
}

/** The array under "explanations" when the whole text is one object wrapping it, else null. */
function wrappedList(text: string): unknown[] | null {
  try {
    const value = JSON.parse(text);
    const list = value?.explanations;
    const isEntry = "index" in value || "feature" in value;
    return Array.isArray(list) && !isEntry ? list : null;
  } catch {
    return null; // one JSON value per line (or not JSON): read line by line
  }
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const OPEN = new Set([0x5b, 0x7b]); // [ {
const CLOSE = new Set([0x5d, 0x7d]); // ] }

/**
 * The values of a JSON array, each parsed on its own (so that parsing can pause between them),
 * or undefined when `text` (starting with "[") is not exactly one array of JSON values.
 */
function* arrayElements(text: string): Steps<unknown[] | undefined> {
  const out: unknown[] = [];
  let depth = 0;
  let start = 1;
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(text, i);
      if (i < 0) return undefined;
    } else if (OPEN.has(c)) {
      depth++;
    } else if (depth > 0) {
      if (CLOSE.has(c)) depth--;
    } else if (c === COMMA || c === 0x5d) {
      const element = text.slice(start, i);
      const last = c === 0x5d;
      // "[]" is empty; "[,", "[1,,2]" and "[1,]" are not JSON.
      if (last && out.length === 0 && element.trim() === "") {
        return text.slice(i + 1).trim() === "" ? out : undefined;
      }
      try {
        out.push(JSON.parse(element));
      } catch {
        return undefined;
      }
      if (last) return text.slice(i + 1).trim() === "" ? out : undefined;
      start = i + 1;
      if (out.length % ENTRIES_PER_STEP === 0) yield;
    } else if (CLOSE.has(c)) {
      return undefined;
    }
  }
  return undefined;
}

/** Index of the quote closing the string opened at `open`, or -1. */
function closingQuote(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return -1;
    let slashes = 0;
    while (text.charCodeAt(at - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return at;
  }
}

/** Options of {@link parseExplanations}. */
export interface ParseOptions {
  readonly file: string;
  readonly dSae: number;
  readonly neuronpediaId?: string;
}

/**
 * Parse an explanation file's text for a dictionary with `dSae` features. Entries are objects
 * with `index` or `feature`, and `description`, `text` or `explanation`.
 */
export function parseExplanations(text: string, options: ParseOptions): ExplanationSet {
  return runAtOnce(parseSteps(text, options));
}

/**
 * {@link parseExplanations} in slices that give the event loop a turn between them
 * (search_slices.ts): a million explanations take seconds to read.
 */
export function parseExplanationsInSlices(
  text: string,
  options: ParseOptions & { sliceMs?: number },
): Promise<ExplanationSet> {
  return runInSlices(parseSteps(text, options), options);
}

/** {@link parseExplanations} as steps of a few hundred entries each. */
function* parseSteps(text: string, options: ParseOptions): Steps<ExplanationSet> {
  const all: string[] = [];
  const warn = (w: string) => all.push(w);
  const byFeature = new Map<number, Explanation[]>();
  let count = 0;
  let seen = 0;
  for (const [where, entry] of yield* entriesOf(text, warn)) {
    if (++seen % ENTRIES_PER_STEP === 0) yield;
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
      warn(`${where}: not an object`);
      continue;
    }
    const e = entry as Record<string, unknown>;
    const feature = indexOf(e.index ?? e.feature);
    const body = e.description ?? e.text ?? e.explanation;
    if (feature === undefined) {
      warn(`${where}: no feature index ("index" or "feature")`);
      continue;
    }
    if (feature < 0 || feature >= options.dSae) {
      warn(`${where}: feature ${feature} is outside [0, ${options.dSae})`);
      continue;
    }
    if (typeof body !== "string" || body.trim() === "") {
      warn(`${where}: no text ("description" or "text")`);
      continue;
    }
    const metadata: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e)) if (!OWN_FIELDS.has(k)) metadata[k] = v;
    const explanation: Explanation = Object.keys(metadata).length
      ? { feature, text: body.trim(), metadata }
      : { feature, text: body.trim() };
    let list = byFeature.get(feature);
    if (!list) byFeature.set(feature, list = []);
    list.push(explanation);
    count++;
  }
  const warnings = all.slice(0, SHOWN_WARNINGS).map((w) => `${options.file}: ${w}`);
  if (all.length > SHOWN_WARNINGS) {
    warnings.push(`${options.file}: and ${all.length - SHOWN_WARNINGS} more entries skipped`);
  }
  return { file: options.file, byFeature, count, warnings, neuronpediaId: options.neuronpediaId };
}

/** SAELens' `neuronpedia_id` (top level or under `metadata`) of a cfg.json object. */
export function neuronpediaIdOf(cfg: Record<string, unknown> | undefined): string | undefined {
  const meta = cfg?.metadata as Record<string, unknown> | undefined;
  const id = cfg?.neuronpedia_id ?? meta?.neuronpedia_id;
  return typeof id === "string" && /^[\w.-]+\/[\w.-]+$/.test(id) ? id : undefined;
}

/** The Neuronpedia page of `feature`, when the set knows its Neuronpedia source. */
export function neuronpediaLink(set: ExplanationSet, feature: number): string | undefined {
  return set.neuronpediaId
    ? `https://www.neuronpedia.org/${set.neuronpediaId}/${feature}`
    : undefined;
}

/** Numbers an explanation's metadata carries about its feature (density, activations). */
export function storedStatistics(
  explanations: readonly Explanation[],
): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  const names = ["density", "frac_nonzero", "mean_activation", "max_activation", "maxActApprox"];
  for (const e of explanations) {
    for (const name of names) {
      const v = e.metadata?.[name];
      if (typeof v === "number" && Number.isFinite(v) && !(name in out)) out[name] = v;
    }
  }
  return Object.keys(out).length ? out : undefined;
}
