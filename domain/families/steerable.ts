/**
 * Which dictionaries steering applies to. Steering edits codes and returns
 * x + R(f') - R(f): it needs a dictionary whose decoder writes back into the space its encoder
 * reads. A transcoder (sparsify `transcode: true`) decodes into another site's space, so the
 * difference would be an output-space direction added to the input.
 * @module
 */

import { SaeError } from "../errors.ts";
import type { DictionaryDescription } from "./loaded.ts";

/** Throw an "invalid" (422) SaeError unless steering `description`'s dictionary is meaningful. */
export function checkSteerable(
  description: Pick<DictionaryDescription, "transcoder">,
  id?: string,
): void {
  if (!description.transcoder) return;
  const name = id === undefined ? "this dictionary" : `dictionary ${id}`;
  throw new SaeError(
    "invalid",
    `${name} is a transcoder: its decoder writes into a different site than its encoder reads, ` +
      "so a steering edit would add an output-space direction to the input activations. " +
      "encode and decode work; steer with a sparse autoencoder of the site you want to change",
  );
}
