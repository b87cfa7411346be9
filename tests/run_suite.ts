/**
 * `deno task test`: every `*_test.ts` in two `deno test` processes side by side (one per core),
 * each taking every other module, then one summary line. Deno spends about 0.33 s creating each
 * module's isolate here, so two processes halve that cost. Two processes, not `deno test
 * --parallel`: in 2 of 5 full runs here the parallel runner aborted at exit, after every test
 * had passed, with glibc's "corrupted size vs. prev_size" (the EGL teardown race
 * {@link webgpuEnv} avoids, more likely with more threads). Arguments are passed to both
 * processes (permissions, `--filter`, ...).
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
/** Folders never searched for tests (as deno.json's "exclude", plus generated ones). */
const SKIP = ["backends/wasm/assembly", "backends/wasm/build", "tests/fixtures", ".git", "dist"];

/** Every test module under `dir`, relative to the repository root, sorted. */
async function testModules(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(ROOT + dir)) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory && !SKIP.includes(path) && !entry.name.startsWith(".")) {
      found.push(...await testModules(path));
    } else if (entry.isFile && entry.name.endsWith("_test.ts")) found.push(path);
  }
  return found.sort();
}

/** Copy a stream to stdout line by line, so two children's lines never mix. */
async function relay(stream: ReadableStream<Uint8Array>, seen: string[]): Promise<void> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let rest = "";
  for await (const chunk of stream) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      seen.push(line);
      await Deno.stdout.write(encoder.encode(line + "\n"));
    }
  }
  if (rest) {
    seen.push(rest);
    await Deno.stdout.write(encoder.encode(rest + "\n"));
  }
}

/** Where Vulkan drivers are listed; Mesa's lavapipe (software Vulkan) is `lvp_icd.<arch>.json`. */
const VULKAN_ICDS = "/usr/share/vulkan/icd.d";

/**
 * The environment that puts the tests' WebGPU on Mesa's lavapipe through Vulkan alone, where it
 * is installed and DENO_WEBGPU_BACKEND is not set: wgpu's GL backend (llvmpipe through EGL)
 * aborted about one test process exit in a dozen full runs (glibc "double free or corruption"):
 * `deno test` runs modules on Tokio's blocking threads, ends them with `shutdown_background()`
 * and exits, so a thread that made an EGL context current frees its thread-specific data while
 * the main thread runs libEGL's and libGLdispatch's destructors. With Vulkan only no EGL is
 * loaded. Without lavapipe (or when it gives no adapter) the tests run on llvmpipe through GL
 * as before. A machine with a hardware GPU and lavapipe installed tests on lavapipe too; set
 * DENO_WEBGPU_BACKEND (or VK_ICD_FILENAMES) to choose otherwise: nothing is then changed.
 */
function webgpuEnv(): Record<string, string> {
  const chosen = ["DENO_WEBGPU_BACKEND", "VK_ICD_FILENAMES", "VK_DRIVER_FILES"];
  if (chosen.some((name) => Deno.env.get(name))) return {};
  let icds: string[];
  try {
    icds = [...Deno.readDirSync(VULKAN_ICDS)].map((e) => e.name);
  } catch {
    return {};
  }
  // This machine's architecture (a multiarch host also lists lvp_icd.i686.json).
  const icd = icds.find((name) => name === `lvp_icd.${Deno.build.arch}.json`);
  if (!icd) return {};
  const env: Record<string, string> = {
    DENO_WEBGPU_BACKEND: "vulkan",
    // Only lavapipe: the loader then opens no hardware driver.
    VK_ICD_FILENAMES: `${VULKAN_ICDS}/${icd}`,
  };
  // libwayland, which lavapipe loads, prints "XDG_RUNTIME_DIR is invalid or not set" at each
  // adapter request when the variable is missing (containers, CI): give it a private folder.
  if (!Deno.env.get("XDG_RUNTIME_DIR")) {
    env.XDG_RUNTIME_DIR = Deno.makeTempDirSync({ prefix: "saeserve-xdg-" });
  }
  // A driver that does not load gives no adapter, and every WebGPU test would be ignored.
  const probe = new Deno.Command(Deno.execPath(), {
    args: ["eval", "console.log(!!(await navigator.gpu?.requestAdapter()))"],
    env,
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  if (new TextDecoder().decode(probe.stdout).trim() !== "true") {
    console.log(`webgpu: lavapipe (${env.VK_ICD_FILENAMES}) gave no adapter; using the default`);
    if (env.XDG_RUNTIME_DIR) Deno.removeSync(env.XDG_RUNTIME_DIR);
    return {};
  }
  return env;
}

const SUMMARY =
  /^(ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \| (\d+) ignored)?/;

const started = performance.now();
const modules = await testModules("");
const gpu = webgpuEnv();
if (gpu.DENO_WEBGPU_BACKEND) {
  console.log(`webgpu: lavapipe through Vulkan (${gpu.VK_ICD_FILENAMES})`);
}
const halves = [modules.filter((_, i) => i % 2 === 0), modules.filter((_, i) => i % 2 === 1)];
const runs = halves.map(async (files) => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "--no-check", ...Deno.args, ...files],
    cwd: ROOT,
    // Plain output: the summary is read back from it.
    env: { NO_COLOR: "1", ...gpu },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const seen: string[] = [];
  await Promise.all([relay(child.stdout, seen), relay(child.stderr, seen)]);
  const status = await child.status;
  const line = seen.findLast((l) => SUMMARY.test(l));
  const m = line?.match(SUMMARY);
  if (!status.success && m?.[1] === "ok") {
    // Every test passed but the process did not exit cleanly: say how, as nothing else will.
    console.log(
      `deno test (${files.length} modules from ${files[0]}) exited with code ${status.code}` +
        (status.signal ? ` (${status.signal})` : "") + " after its summary",
    );
  }
  return {
    ok: status.success,
    passed: Number(m?.[2] ?? 0),
    steps: Number(m?.[3] ?? 0),
    failed: Number(m?.[4] ?? (status.success ? 0 : 1)),
    ignored: Number(m?.[5] ?? 0),
    summarized: m !== undefined,
  };
});
const results = await Promise.all(runs);
if (gpu.XDG_RUNTIME_DIR) Deno.removeSync(gpu.XDG_RUNTIME_DIR, { recursive: true });
const sum = (key: "passed" | "steps" | "failed" | "ignored") =>
  results.reduce((n, r) => n + r[key], 0);
const ok = results.every((r) => r.ok && r.summarized);
const seconds = Math.round((performance.now() - started) / 1000);
console.log(
  `\n${ok ? "ok" : "FAILED"} | ${sum("passed")} passed (${sum("steps")} steps) | ${
    ok ? sum("failed") : Math.max(1, sum("failed"))
  } failed | ${sum("ignored")} ignored (${Math.floor(seconds / 60)}m${
    seconds % 60
  }s, ${modules.length} modules in two processes)`,
);
Deno.exit(ok ? 0 : 1);
