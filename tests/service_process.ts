/**
 * The service as a child process for over-HTTP benchmarks: started on a random loopback port
 * with the given environment, and its resident memory read from /proc.
 * @module
 */

/** A running service. */
export interface RunningService {
  readonly url: string;
  readonly pid: number;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<Deno.CommandStatus>;
}

/**
 * Start main.ts with `env` on a random port (from `portBase`) and wait until it listens;
 * `v8Flags` replaces the default `--expose-gc` (as `deno task start` passes it).
 */
export async function startService(
  env: Record<string, string>,
  options: { portBase?: number; v8Flags?: string } = {},
): Promise<RunningService> {
  // Below Linux's ephemeral ports (32768+), which test modules running beside this one use.
  const base = Math.min(options.portBase ?? 10000, 30000);
  const port = base + Math.floor(Math.random() * (32000 - base));
  const flags = options.v8Flags ?? "--expose-gc";
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--v8-flags=${flags}`, new URL("../main.ts", import.meta.url).pathname],
    env: { PORT: String(port), HOST: "127.0.0.1", ...env },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("saeserve on")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`service exited: ${text}`);
    text += value;
  }
  const drain = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      const status = await child.status;
      await drain;
      return status;
    },
  };
}

/** Resident and peak resident bytes of process `pid` (Linux). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) =>
    Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}
