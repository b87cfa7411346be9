/**
 * What the registry caches: the key of each kind of loaded thing (a tagged union, so a head
 * and a dictionary in the same folder never collide) and the value loaded for it.
 * @module
 */

import type { Prepared } from "../../backends/backend.ts";
import type { AlignedDictionary } from "../../domain/sae/aligned.ts";
import type { ExplanationSet } from "../../domain/features/explanations.ts";
import type { ModelHead } from "../../domain/features/head.ts";
import type { ExplanationIndex } from "../../domain/features/search.ts";
import type { DictionaryDescription, FormatName } from "../../domain/families/mod.ts";

/** The kinds of thing the registry loads from a store folder. */
export type EntryKind = "dictionary" | "head" | "aligned" | "explanations";

/** One cached thing: its kind and its store folder id. */
export interface EntryKey {
  readonly kind: EntryKind;
  readonly id: string;
}

/** A key as one string; kinds hold no ":", so no two keys share one. */
export function keyOf(key: EntryKey): string {
  return `${key.kind}:${key.id}`;
}

/** One dictionary as listed. */
export interface DictionarySummary {
  readonly id: string;
  readonly format: FormatName;
  readonly loaded: boolean;
  /** Present when the folder could be described; `error` otherwise. */
  readonly description?: DictionaryDescription;
  readonly error?: string;
  /** Contents of saeserve.json, when present. */
  readonly sidecar?: Record<string, unknown>;
  /** The dictionary's explanations file, when it has one: what it holds and its warnings. */
  readonly explanations?: ExplanationsSummary;
}

/** A dictionary's explanations as listed. */
export interface ExplanationsSummary {
  readonly file: string;
  /** Explanations read, and features that have at least one. */
  readonly count: number;
  readonly features: number;
  readonly warnings: readonly string[];
}

/** One aligned (multi-stream) dictionary as listed, from its saeserve.json. */
export interface AlignedSummary {
  readonly id: string;
  readonly loaded: boolean;
  /** Present when saeserve.json could be read; `error` otherwise. */
  readonly latents?: number;
  readonly k?: number;
  readonly streams?: readonly { readonly name: string; readonly d: number }[];
  readonly error?: string;
  /** Contents of saeserve.json, when it could be read. */
  readonly sidecar?: Record<string, unknown>;
}

/** A loaded dictionary: prepared on the backend, with what `describe` answers while loaded. */
export interface DictionaryEntry {
  readonly kind: "dictionary";
  readonly description: DictionaryDescription;
  readonly summary: DictionarySummary;
  readonly prepared: Prepared;
}

/** A loaded model head. */
export interface HeadEntry {
  readonly kind: "head";
  readonly head: ModelHead;
}

/** A loaded aligned (multi-stream) dictionary. */
export interface AlignedEntry {
  readonly kind: "aligned";
  readonly aligned: AlignedDictionary;
  /** Its saeserve.json, as read at load (described as `metadata`). */
  readonly sidecar: Record<string, unknown>;
}

/** A dictionary's explanations, indexed for search. */
export interface ExplanationsEntry {
  readonly kind: "explanations";
  readonly set: ExplanationSet;
  readonly index: ExplanationIndex;
}

/** Any loaded thing; its `kind` is its key's. */
export type Entry = DictionaryEntry | HeadEntry | AlignedEntry | ExplanationsEntry;
