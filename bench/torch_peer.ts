/**
 * The PyTorch peer of bench/encode_vs_torch.ts: bench/torch_encode.py run once per batch size
 * ({@link torchRows}), or kept running to time blocks on request ({@link torchBlocks}), so that
 * a caller can alternate them with its own.
 * @module
 */

/** The dictionary torch encodes and the Python that runs it. */
export interface TorchShape {
  readonly dIn: number;
  readonly dSae: number;
  readonly k: number;
  /** The Python with torch (Debian's python3-torch by default in the bench). */
  readonly python: string;
}

/** One batch size's timing. */
export interface Row {
  rows: number;
  medianMs: number;
  rowsPerS: number;
  gflops: number;
}

/** torch_encode.py's command: the dictionary's shape, then `extra` arguments. */
function torchCommand(
  shape: TorchShape,
  options: { extra: string[]; stdin: "piped" | "null" },
): Deno.Command {
  return new Deno.Command(shape.python, {
    args: [
      new URL("./torch_encode.py", import.meta.url).pathname,
      "--d-in",
      String(shape.dIn),
      "--d-sae",
      String(shape.dSae),
      "--k",
      String(shape.k),
      ...options.extra,
    ],
    env: { OMP_NUM_THREADS: String(navigator.hardwareConcurrency) },
    stdin: options.stdin,
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * torch's encode timed for `seconds` per batch size after `warmup` seconds; null (with a line
 * saying why) when torch cannot run.
 */
export function torchRows(
  shape: TorchShape,
  options: { rows: number[]; seconds: number; warmup: number },
): Row[] | null {
  const { rows, seconds, warmup } = options;
  try {
    const out = torchCommand(shape, {
      extra: ["--rows", rows.join(","), "--seconds", String(seconds), "--warmup", String(warmup)],
      stdin: "null",
    }).outputSync();
    if (!out.success) {
      console.log(
        `torch skipped: ${new TextDecoder().decode(out.stderr).trim().split("\n").pop()}`,
      );
      return null;
    }
    return new TextDecoder().decode(out.stdout).trim().split("\n").map((line) => {
      const r = JSON.parse(line);
      return { rows: r.rows, medianMs: r.median_ms, rowsPerS: r.rows_per_s, gflops: r.gflops };
    });
  } catch (e) {
    console.log(`torch skipped: ${shape.python} cannot run (${(e as Error).message})`);
    return null;
  }
}

/** Where torch_encode.py --serve sends the encode instead, by saeserve's Python client. */
export interface ClientTarget {
  /** The service's base URL. */
  url: string;
  /** The dictionary's id. */
  id: string;
}

/**
 * A running torch_encode.py --serve: one timed block per call, its median in ms; with `client`,
 * the block times saeserve's Python client in torch's process instead.
 */
export interface TorchBlocks {
  block(rows: number, seconds: number, client?: ClientTarget): Promise<number>;
  close(): Promise<void>;
}

/** Start torch_encode.py --serve. */
export function torchBlocks(shape: TorchShape): TorchBlocks {
  const child = torchCommand(shape, { extra: ["--serve"], stdin: "piped" }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const line = async (): Promise<string> => {
    while (!buffered.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) throw new Error("torch_encode.py --serve ended early");
      buffered += value;
    }
    const at = buffered.indexOf("\n");
    const text = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    return text;
  };
  return {
    async block(rows: number, seconds: number, client?: ClientTarget): Promise<number> {
      const target = client ? ` ${client.url} ${client.id}` : "";
      await writer.write(new TextEncoder().encode(`${rows} ${seconds}${target}\n`));
      return JSON.parse(await line()).median_ms;
    },
    async close(): Promise<void> {
      await writer.close();
      await reader.cancel();
      await child.stderr.cancel();
      await child.status;
    },
  };
}
