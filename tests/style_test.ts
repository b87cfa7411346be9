/**
 * The brief's rules for exported symbols, checked over the repository's TypeScript (tests
 * excluded): JSDoc above each; functions declared with `function` (not arrows, as Deno's style
 * guide asks), with an explicit return type and at most two arguments plus an options object (a
 * third parameter is an object: named `options`, an object literal type, or an interface or
 * object type declared here).
 * @module
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const SKIP = new Set(["node_modules", ".git", "dist", "assembly", ".deno", "shared"]);

async function* sources(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".") || SKIP.has(entry.name)) continue;
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* sources(url);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) yield url;
  }
}

/** The top-level comma-separated pieces of `text` (brackets balanced, `=>` not a closer). */
function topLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ("([{<".includes(c)) depth++;
    else if (")]}".includes(c) || (c === ">" && text[i - 1] !== "=")) depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** The index just after the parenthesis closing the one before `from`. */
function closing(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return i + 1;
  }
  return text.length;
}

interface Found {
  where: string;
  name: string;
  params: string[];
  documented: boolean;
  returnType: boolean;
}

interface Scan {
  found: Found[];
  objectTypes: Set<string>;
  /** Exported symbols of any kind without JSDoc, and exported arrow functions. */
  undocumented: string[];
  arrows: string[];
}

async function exportedFunctions(): Promise<Scan> {
  const found: Found[] = [];
  const objectTypes = new Set<string>();
  const undocumented: string[] = [];
  const arrows: string[] = [];
  for await (const url of sources(ROOT)) {
    // Template literals hold other languages' code (WGSL, AssemblyScript): not scanned.
    const text = (await Deno.readTextFile(url)).replace(/`(?:\\.|[^`\\])*`/g, "``");
    for (
      const m of text.matchAll(
        /(?:interface|type) (\w+)(?:<[^=]*?>)?\s*(?:extends [^{]*)?[={]\s*\{?/g,
      )
    ) {
      objectTypes.add(m[1]);
    }
    const where = url.pathname.slice(ROOT.pathname.length);
    const symbol = /^export (?:async )?(?:interface|type|const|let|class|enum|function\*?) (\w+)/gm;
    for (const m of text.matchAll(symbol)) {
      if (!text.slice(0, m.index).trimEnd().endsWith("*/")) undocumented.push(`${where} ${m[1]}`);
    }
    for (
      const m of text.matchAll(/^export const (\w+)(?::[^=]+)?=\s*(?:async\s*)?(?:<[^>]*>)?\(/gm)
    ) {
      arrows.push(`${where} ${m[1]}`);
    }
    const fn = /export (?:async )?function\*? (\w+)(?:<[^(]*?>)?\(/g;
    for (const m of text.matchAll(fn)) {
      const open = m.index! + m[0].length;
      const end = closing(text, open);
      found.push({
        where,
        name: m[1],
        params: topLevel(text.slice(open, end - 1)),
        documented: text.slice(0, m.index).trimEnd().endsWith("*/"),
        returnType: text.slice(end).trimStart().startsWith(":"),
      });
    }
  }
  return { found, objectTypes, undocumented, arrows };
}

const { found, objectTypes, undocumented, arrows } = await exportedFunctions();

Deno.test("style: the scan finds the exported functions", () => {
  assert.ok(found.length > 300, `only ${found.length} exported functions found`);
  assert.ok(found.some((f) => f.name === "matrix" && f.where === "domain/sae/matrix.ts"));
});

Deno.test("style: every exported symbol has JSDoc; top-level functions are declared, not arrows", () => {
  assert.deepEqual(undocumented, []);
  assert.deepEqual(arrows, []);
});

Deno.test("style: every exported function has JSDoc and an explicit return type", () => {
  const bad = found.filter((f) => !f.documented || !f.returnType)
    .map((f) =>
      `${f.where} ${f.name}${f.documented ? "" : " (no JSDoc)"}${
        f.returnType ? "" : " (no return type)"
      }`
    );
  assert.deepEqual(bad, []);
});

Deno.test("style: exported functions take at most two arguments plus an options object", () => {
  const isObject = (param: string): boolean => {
    const [, name, type] = param.match(/^(\w+)\??\s*(?::\s*([\s\S]*?))?(?:\s*=\s*[\s\S]*)?$/) ?? [];
    if (name === "options") return true;
    const t = (type ?? "").trim();
    return t.startsWith("{") || t.startsWith("Readonly<{") || objectTypes.has(t.split(/[<\s|]/)[0]);
  };
  const bad = found.filter((f) =>
    f.params.length > 3 || (f.params.length === 3 && !isObject(f.params[2]))
  )
    .map((f) =>
      `${f.where} ${f.name}(${f.params.map((p) => p.split(/[?:=]/)[0].trim()).join(", ")})`
    );
  assert.deepEqual(bad, []);
});
