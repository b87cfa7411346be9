/**
 * Timed blocks of one POST sent by wrk (one thread, one keep-alive connection, the next request
 * once the answer is in), the median latency wrk reports: the service as a lean HTTP/1.1 client
 * sees it, without the Deno fetch client's own cost. Used by bench/encode_vs_torch.ts next to its
 * fetch blocks; absent (null) when wrk is not installed (`apt-get install wrk`).
 * @module
 */

/** A POST that wrk repeats. */
export interface WrkRequest {
  /** The whole URL, query included. */
  url: string;
  /** The request body. */
  body: Uint8Array;
  /** Request headers (content-type, accept). */
  headers: Record<string, string>;
}

/** Blocks of one request: each call runs wrk for `seconds` and gives its median in ms. */
export interface WrkBlocks {
  /** wrk's version line. */
  version: string;
  /** One block of at least `seconds` (whole seconds, at least 1): the median latency in ms. */
  block(seconds: number): Promise<number>;
  /** Remove the temporary script and body. */
  close(): Promise<void>;
}

const UNITS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 6e4 };

/** wrk's "50%" latency line in ms; throws on errors or non-2xx answers in its report. */
export function wrkMedianMs(report: string): number {
  const bad = /Non-2xx or 3xx responses: *(\d+)|Socket errors:[^\n]*/.exec(report);
  if (bad) throw new Error(`wrk: ${bad[0]}\n${report}`);
  const m = /^\s*50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(report);
  if (!m) throw new Error(`wrk printed no median latency:\n${report}`);
  return Number(m[1]) * UNITS[m[2]];
}

/** Lua for wrk: method, headers and the body read from `bodyPath`. */
function script(request: WrkRequest, bodyPath: string): string {
  const lines = [`wrk.method = "POST"`];
  for (const [k, v] of Object.entries(request.headers)) {
    lines.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
  }
  lines.push(
    `local f = assert(io.open(${JSON.stringify(bodyPath)}, "rb"))`,
    `wrk.body = f:read("*a")`,
    `f:close()`,
  );
  return lines.join("\n") + "\n";
}

/** wrk blocks of `request`, or null (with a line saying why) when wrk cannot run. */
export async function wrkBlocks(request: WrkRequest): Promise<WrkBlocks | null> {
  let version: string;
  try {
    const out = await new Deno.Command("wrk", { args: ["--version"], stdout: "piped" }).output();
    version = new TextDecoder().decode(out.stdout).split("\n")[0].trim();
  } catch {
    console.log("wrk blocks skipped: wrk is not installed (apt-get install wrk)");
    return null;
  }
  const dir = await Deno.makeTempDir({ prefix: "saeserve-wrk-" });
  const bodyPath = `${dir}/body`;
  await Deno.writeFile(bodyPath, request.body);
  await Deno.writeTextFile(`${dir}/post.lua`, script(request, bodyPath));
  return {
    version,
    async block(seconds: number): Promise<number> {
      const args = ["-t1", "-c1", `-d${Math.max(1, Math.round(seconds))}s`, "--latency"];
      const out = await new Deno.Command("wrk", {
        args: [...args, "-s", `${dir}/post.lua`, request.url],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      if (!out.success) throw new Error(`wrk failed:\n${text}`);
      return wrkMedianMs(text);
    },
    close: () => Deno.remove(dir, { recursive: true }),
  };
}
