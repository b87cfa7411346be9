/**
 * Entry point of the single binary (`deno task compile`) and of the container image: the
 * service exactly as main.ts starts it, plus `--healthcheck`, a probe for images without curl
 * (the Dockerfile's HEALTHCHECK): GET /healthz on this machine's $PORT, exit 0 when it answers
 * 200, 1 otherwise. The probe loads nothing of the service, so it starts in a few milliseconds.
 * @module
 */

/** The /healthz address the probe asks, from $PORT (default 8080). */
export function healthUrl(env: Record<string, string | undefined>): string {
  return `http://127.0.0.1:${env.PORT || "8080"}/healthz`;
}

/** Ask /healthz once within `timeoutMs`; true when it answers 200. */
export async function probeHealth(url: string, options?: { timeoutMs?: number }): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(options?.timeoutMs ?? 2000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--healthcheck") {
    const ok = await probeHealth(healthUrl(Deno.env.toObject()));
    if (!ok) console.error("unhealthy: /healthz did not answer 200");
    Deno.exit(ok ? 0 : 1);
  }
  // Loaded only here so that the probe above stays small; the start is main.ts's own.
  const { serveFromEnvironment } = await import("../main.ts");
  await serveFromEnvironment();
}
