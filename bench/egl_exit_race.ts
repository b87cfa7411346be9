/**
 * The WebGPU teardown race of `deno test` (README, "Tests"): writes 12 small test modules that
 * each open a WebGPU device, map a buffer and make 24 blocking-pool calls, runs them under
 * `deno test --parallel` (DENO_JOBS=12) again and again, and counts the runs whose process ended
 * by a signal (glibc's abort at exit). Run it once per environment to compare, e.g. llvmpipe
 * through GL against lavapipe through Vulkan alone:
 *
 *   deno run -A bench/egl_exit_race.ts [--runs 40] [--tail-ms 0]
 *   DENO_WEBGPU_BACKEND=vulkan VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json \
 *     deno run -A bench/egl_exit_race.ts
 *
 * `--tail-ms` adds a 13th module that only waits that long (12000: the GPU modules' threads
 * outlive Tokio's 10 s keep-alive and end before the exit).
 * @module
 */

import { parseOptions } from "../cli/args.ts";
import { runCli } from "../cli/run.ts";

const SPEC = {
  name: "bench-egl-exit-race",
  summary: "How often `deno test --parallel` of small WebGPU modules aborts at exit.",
  options: {
    runs: { type: "integer", positive: true, default: 40, description: "Test runs." },
    "tail-ms": {
      type: "integer",
      default: 0,
      description: "Add a module that waits this long (0: none).",
    },
  },
} as const;

const MODULE = `Deno.test("gpu, then blocking calls", async () => {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return;
  const device = await adapter.requestDevice();
  const b = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  await b.mapAsync(GPUMapMode.READ);
  b.unmap();
  await Promise.all(Array.from({ length: 24 }, () => Deno.stat("/proc/self/status")));
});
`;

async function main(): Promise<void> {
  const values = parseOptions(SPEC, Deno.args);
  const dir = await Deno.makeTempDir({ prefix: "saeserve-egl-race-" });
  try {
    for (let i = 0; i < 12; i++) await Deno.writeTextFile(`${dir}/gpu${i}_test.ts`, MODULE);
    if (values["tail-ms"] > 0) {
      await Deno.writeTextFile(
        `${dir}/tail_test.ts`,
        `Deno.test("idle", () => new Promise((r) => setTimeout(r, ${values["tail-ms"]})));\n`,
      );
    }
    const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "all backends";
    let aborted = 0;
    for (let run = 1; run <= values.runs; run++) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["test", "-A", "--no-check", "--parallel", dir],
        // One job per module: all of them run at once.
        env: { DENO_JOBS: values["tail-ms"] > 0 ? "13" : "12", NO_COLOR: "1" },
        stdout: "null",
        stderr: "piped",
      }).output();
      if (out.signal) {
        aborted++;
        const last = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1);
        console.log(`run ${run}: ${out.signal} (${last})`);
      } else if (out.code !== 0) {
        console.log(`run ${run}: exit code ${out.code}`);
      }
    }
    console.log(
      `${aborted} of ${values.runs} runs aborted (DENO_WEBGPU_BACKEND: ${backend}, ` +
        `tail ${values["tail-ms"]} ms)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await runCli("bench-egl-exit-race", main);
