import assert from "node:assert/strict";
import { locate, outputFolder } from "./locations.ts";

Deno.test("locate: a local file is its folder and name; a store URL its root and path", () => {
  const local = locate("/tmp/some/rows.npy", {});
  assert.equal(local.path, "rows.npy");
  assert.match(local.store.describe, /\/tmp\/some/);
  const folder = locate("file:///tmp/some%20dir", {});
  assert.equal(folder.path, "");
  const remote = locate("https://example.invalid/a/b/x.npy", {});
  assert.equal(remote.path, "a/b/x.npy");
});

Deno.test("outputFolder: a local folder is made at once and written; what cannot be is refused first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-out-" });
  try {
    const out = await outputFolder(`${dir}/new/deeper`, { env: {} });
    assert.ok((await Deno.stat(`${dir}/new/deeper`)).isDirectory, "made before any work");
    await out.write(new Map([["a.json", new TextEncoder().encode("{}")]]));
    assert.equal(await Deno.readTextFile(`${dir}/new/deeper/a.json`), "{}");
    await Deno.writeTextFile(`${dir}/file`, "x");
    await assert.rejects(
      outputFolder(`${dir}/file/sub`, { env: {}, flag: "--out" }),
      /^.*--out .*\/file\/sub: cannot create it/,
    );
    await assert.rejects(
      outputFolder("https://example.invalid/models", { env: {} }),
      /--out https:\/\/example\.invalid\/models: .* is read-only/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
