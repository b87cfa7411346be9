/**
 * Warm start: `deno task start` (the README's command, kernels already built) to the first
 * answered 1-row encode on demo-topk, several times. Run with
 * `deno run -A bench/warm_start.ts [runs]`; prints each time and the median.
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname;

async function once(port: number): Promise<number> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: ROOT,
    env: { PORT: String(port), HOST: "127.0.0.1", NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const body = JSON.stringify({ activations: [Array.from({ length: 64 }, (_, i) => Math.sin(i))] });
  try {
    while (true) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/dictionaries/demo-topk/encode`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      }).catch(() => null); // not listening yet
      if (res) {
        await res.arrayBuffer();
        if (res.ok) return performance.now() - started;
        if (res.status !== 503) throw new Error(`encode answered ${res.status}`);
      }
      if (performance.now() - started > 60_000) throw new Error("no answer within 60 s");
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? 5);
  // One unmeasured run builds the kernels if needed and warms Deno's module cache.
  await once(23000 + Math.floor(Math.random() * 1000));
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    times.push(await once(24000 + Math.floor(Math.random() * 1000)));
    console.log(`run ${i + 1}: ${(times.at(-1)! / 1000).toFixed(2)} s to the first encode`);
  }
  times.sort((a, b) => a - b);
  console.log(`median ${(times[Math.floor(runs / 2)]! / 1000).toFixed(2)} s over ${runs} runs`);
}
