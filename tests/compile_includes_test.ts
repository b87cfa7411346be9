/**
 * `deno task compile` builds the single binary from the modules main.ts imports; worker
 * scripts are loaded by URL, so each must be named with --include or the binary cannot start
 * that worker. Every worker a service module starts is checked against the task.
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;

/** Service modules (not tests or benchmarks) that start a worker from a URL beside them. */
async function workerScripts(): Promise<string[]> {
  const out: string[] = [];
  for (const dir of ["backends", "service", "routes", "domain"]) {
    const walk = async (at: string): Promise<void> => {
      for await (const e of Deno.readDir(at)) {
        const path = join(at, e.name);
        if (e.isDirectory && e.name !== "assembly" && e.name !== "build") await walk(path);
        if (!e.isFile || !e.name.endsWith(".ts") || e.name.endsWith("_test.ts")) continue;
        const text = await Deno.readTextFile(path);
        if (!text.includes("new Worker(")) continue;
        for (const m of text.matchAll(/new URL\("(\.\/[\w/]+\.ts)", import\.meta\.url\)/g)) {
          out.push(relative(ROOT, join(dirname(path), m[1])));
        }
      }
    };
    await walk(join(ROOT, dir));
  }
  return out.sort();
}

Deno.test("deno task compile includes every worker script the service starts", async () => {
  const task: string = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks.compile;
  const scripts = await workerScripts();
  assert.ok(scripts.length >= 3, `found ${scripts}`);
  for (const script of scripts) {
    assert.ok(task.includes(`--include ${script}`), `deno task compile lacks --include ${script}`);
  }
});
