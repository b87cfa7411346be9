import assert from "node:assert/strict";
import { staleReason } from "./build.ts";

Deno.test("kernel build: stale when the output is missing or older than a source, else current", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const assembly = new URL(`file://${dir}/assembly/`);
    const output = new URL(`file://${dir}/kernels.wasm`);
    await Deno.mkdir(assembly);
    await Deno.writeTextFile(new URL("kernels.ts", assembly), "export function f(): void {}");
    assert.match((await staleReason({ assembly, output })) ?? "", /does not exist/);
    await Deno.writeFile(output, new Uint8Array([0, 97, 115, 109]));
    const now = new Date();
    await Deno.utime(new URL("kernels.ts", assembly), now, new Date(now.getTime() - 60_000));
    assert.equal(await staleReason({ assembly, output }), null);
    await Deno.utime(new URL("kernels.ts", assembly), now, new Date(now.getTime() + 60_000));
    assert.match((await staleReason({ assembly, output })) ?? "", /kernels\.ts changed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kernel build: the tree's kernels are current after `deno task kernels`", async () => {
  assert.equal(await staleReason(), null);
});
