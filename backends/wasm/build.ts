/**
 * Builds the WASM kernels (backends/wasm/assembly/*.ts -> backends/wasm/build/kernels.wasm) with
 * AssemblyScript, only when the output is missing or older than a source file (or with
 * `--force`). `deno task start`, `test` and the CLIs run it first; on a warm tree it does nothing.
 * @module
 */

const ASSEMBLY = new URL("./assembly/", import.meta.url);
const OUTPUT = new URL("./build/kernels.wasm", import.meta.url);
const COMPILER = "npm:assemblyscript@0.28.20/asc";
const FLAGS = [
  "--enable",
  "simd",
  "--enable",
  "relaxed-simd",
  "--enable",
  "threads",
  "--importMemory",
  "--sharedMemory",
  "--initialMemory",
  "32",
  "--maximumMemory",
  "65536",
  "-O3",
  "--noAssert",
  "--runtime",
  "stub",
];

async function mtime(url: URL): Promise<number | null> {
  try {
    return (await Deno.stat(url)).mtime?.getTime() ?? 0;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Where the sources and the output are (default: this folder's assembly/ and build/). */
export interface BuildPaths {
  readonly assembly?: URL;
  readonly output?: URL;
}

/** Why the kernels must be (re)built, or null when the build output is current. */
export async function staleReason(paths: BuildPaths = {}): Promise<string | null> {
  const assembly = paths.assembly ?? ASSEMBLY;
  const built = await mtime(paths.output ?? OUTPUT);
  if (built === null) return "the build output does not exist yet";
  for await (const entry of Deno.readDir(assembly)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const source = await mtime(new URL(entry.name, assembly));
    if (source !== null && source > built) return `assembly/${entry.name} changed`;
  }
  return null;
}

/** Compile the kernels with AssemblyScript; throws with the compiler's output on failure. */
export async function buildKernels(): Promise<void> {
  const args = [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    COMPILER,
    new URL("kernels.ts", ASSEMBLY).pathname,
    ...FLAGS,
    "-o",
    OUTPUT.pathname,
  ];
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new Error(`the WASM kernel build failed:\n${text.trim()}`);
  }
}

if (import.meta.main) {
  const force = Deno.args.includes("--force");
  const reason = force ? "--force" : await staleReason();
  if (reason !== null) {
    const started = performance.now();
    console.error(`saeserve: building the WASM kernels (${reason}); this takes a few seconds`);
    try {
      await buildKernels();
    } catch (e) {
      console.error(`error: ${(e as Error).message}`);
      Deno.exit(1);
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.error(`saeserve: kernels built in ${seconds} s`);
  }
}
