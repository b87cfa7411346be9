/**
 * What the request thread loads at start: main.ts's static imports, walked in `deno info`'s
 * module graph (dynamic and type-only imports left out). Left out of the start, each loaded where
 * it is used: the image codecs (fast-png, jpeg-js; job workers and the vision example), the WebGPU
 * backend (when the backend is WebGPU) and MiniSearch (with the first explanations): an idle
 * service 86 -> 84 MiB for the codecs and 1.5 MiB less again for the other two.
 * @module
 */

import assert from "node:assert/strict";

interface Dependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}
interface GraphModule {
  specifier: string;
  dependencies?: Dependency[];
}

Deno.test("the request thread's static imports leave out the codecs, WebGPU and MiniSearch", async () => {
  const main = new URL("../main.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", main],
    stderr: "null",
  }).output();
  assert.ok(out.success, "deno info failed");
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: GraphModule[];
    redirects: Record<string, string>;
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const resolve = (s: string) => graph.redirects[s] ?? s;
  const reached = new Set<string>();
  const pending = graph.roots.map(resolve);
  while (pending.length) {
    const specifier = pending.pop()!;
    if (reached.has(specifier)) continue;
    reached.add(specifier);
    for (const d of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (d.code && !d.isDynamic) pending.push(resolve(d.code.specifier));
    }
  }
  const statically = [...reached];
  assert.ok(statically.some((s) => s.includes("hono@")), "the walk reaches hono");
  assert.ok(statically.some((s) => s.endsWith("routes/ui_vision_page.ts")));
  assert.ok(
    graph.modules.some((m) => m.specifier.includes("fast-png@")),
    "the whole graph (dynamic imports too) holds the codec",
  );
  const late = [
    "fast-png@",
    "jpeg-js@",
    "domain/io/image_codec.ts",
    "backends/gpu/mod.ts",
    "backends/gpu/thread.ts",
    "minisearch@",
    "domain/features/search.ts",
  ];
  for (const name of late) {
    assert.deepEqual(
      statically.filter((s) => s.includes(name)),
      [],
      `${name} is imported at start`,
    );
  }
});
