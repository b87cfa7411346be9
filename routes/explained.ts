/**
 * A feature's explanations and Neuronpedia link as the feature routes answer them.
 * @module
 */

import { type ExplanationSet, neuronpediaLink } from "../domain/features/explanations.ts";

/** `explanations` (text and metadata) and `link` of `feature` in `set`. */
export function explainedJson(
  set: ExplanationSet,
  feature: number,
): {
  explanations: { text: string; metadata?: Readonly<Record<string, unknown>> }[];
  link?: string;
} {
  const list = set.byFeature.get(feature) ?? [];
  return {
    explanations: list.map((
      e,
    ) => (e.metadata ? { text: e.text, metadata: e.metadata } : { text: e.text })),
    link: neuronpediaLink(set, feature),
  };
}
