import assert from "node:assert/strict";
import { bytesSource } from "../io/byte_source.ts";
import { SaeError } from "../errors.ts";
import { describeFolder, type Folder } from "./mod.ts";
import { checkSteerable } from "./steerable.ts";

const DICTS = new URL("../../tests/fixtures/dicts/", import.meta.url);

function fixture(name: string): Folder {
  const contents = new Map<string, Uint8Array>();
  for (const e of Deno.readDirSync(new URL(`${name}/`, DICTS))) {
    contents.set(e.name, Deno.readFileSync(new URL(`${name}/${e.name}`, DICTS)));
  }
  return {
    files: new Map([...contents].map(([n, b]) => [n, b.byteLength])),
    open: (name) => Promise.resolve(bytesSource(contents.get(name)!)),
  };
}

Deno.test("steerable: sparsify transcoders are refused with a 422 that says why", async () => {
  const transcoder = await describeFolder("sparsify", fixture("sparsify_transcode"));
  assert.equal(transcoder.transcoder, true);
  assert.throws(
    () => checkSteerable(transcoder, "sparsify_transcode"),
    (e: Error) =>
      e instanceof SaeError && e.kind === "invalid" &&
      /dictionary sparsify_transcode is a transcoder/.test(e.message) &&
      /output-space direction/.test(e.message),
  );
  checkSteerable(await describeFolder("sparsify", fixture("sparsify_topk")));
  checkSteerable(await describeFolder("saelens", fixture("saelens_standard")));
});
