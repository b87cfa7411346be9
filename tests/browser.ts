/**
 * A headless Chromium driven over the DevTools protocol (WebSocket, no npm dependency), for
 * tests of the pages the service serves. `findChromium()` is null where no browser is
 * installed (`apt-get install chromium`); tests that need one are ignored there.
 * @module
 */

/** The Chromium binary, or null when none is installed. */
export function findChromium(): string | null {
  for (const path of [Deno.env.get("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    if (!path) continue;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not here
    }
  }
  return null;
}

/** One open page: evaluate expressions in it. */
export interface Page {
  /** Evaluate `expression` (awaiting a returned promise) and return its JSON value. */
  evaluate<T>(expression: string): Promise<T>;
  /** Poll `expression` until it is truthy (or throw after `timeoutMs`); returns its value. */
  waitFor<T>(expression: string, options?: { timeoutMs?: number }): Promise<T>;
  /** A PNG screenshot of the viewport. */
  screenshot(): Promise<Uint8Array>;
}

/** A running browser. */
export interface Browser {
  /** Open `url` in a new page and wait for its load event. */
  open(url: string): Promise<Page>;
  /** Quit the browser and release every resource. */
  close(): Promise<void>;
}

/** Launch headless Chromium at `path`. */
export async function launchChromium(path: string): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "saeserve-chromium-" });
  const child = new Deno.Command(path, {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // The DevTools address is printed on stderr; keep draining stderr afterwards.
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let port: number | null = null;
  while (port === null) {
    const { done, value } = await lines.read();
    if (done) throw new Error(`chromium exited before listening: ${buffered.slice(-500)}`);
    buffered += value;
    const m = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(buffered);
    if (m) port = Number(m[1]);
  }
  const drained = (async () => {
    while (!(await lines.read()).done) { /* discard */ }
  })();
  const sockets: WebSocket[] = [];

  async function open(url: string): Promise<Page> {
    const target =
      await (await fetch(`http://127.0.0.1:${port}/json/new?about:blank`, { method: "PUT" }))
        .json();
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    sockets.push(ws);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    let next = 1;
    const pending = new Map<number, (message: Record<string, unknown>) => void>();
    const events: ((message: Record<string, unknown>) => void)[] = [];
    ws.onmessage = (e) => {
      const message = JSON.parse(e.data);
      if (message.id && pending.has(message.id)) {
        pending.get(message.id)!(message);
        pending.delete(message.id);
      } else {
        for (const listener of events) listener(message);
      }
    };
    const send = (method: string, params: Record<string, unknown> = {}) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const id = next++;
        pending.set(
          id,
          (
            m,
          ) => (m.error
            ? reject(new Error(JSON.stringify(m.error)))
            : resolve(m.result as Record<string, unknown>)),
        );
        ws.send(JSON.stringify({ id, method, params }));
      });
    await send("Page.enable");
    const loaded = new Promise<void>((resolve) =>
      events.push((m) => m.method === "Page.loadEventFired" && resolve())
    );
    await send("Page.navigate", { url });
    await loaded;

    async function evaluate<T>(expression: string): Promise<T> {
      const result = await send("Runtime.evaluate", {
        expression,
        awaitPromise: true,
        returnByValue: true,
      });
      if (result.exceptionDetails) {
        throw new Error(`page threw: ${JSON.stringify(result.exceptionDetails)}`);
      }
      return (result.result as { value: T }).value;
    }
    async function waitFor<T>(expression: string, options?: { timeoutMs?: number }): Promise<T> {
      const deadline = Date.now() + (options?.timeoutMs ?? 10_000);
      while (true) {
        const value = await evaluate<T>(expression);
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    async function screenshot(): Promise<Uint8Array> {
      const result = await send("Page.captureScreenshot", { format: "png" });
      return Uint8Array.from(atob(result.data as string), (c) => c.charCodeAt(0));
    }
    return { evaluate, waitFor, screenshot };
  }

  async function close(): Promise<void> {
    for (const ws of sockets) {
      if (ws.readyState === WebSocket.OPEN) {
        const closed = new Promise((r) => (ws.onclose = r));
        ws.close();
        await closed;
      }
    }
    child.kill("SIGTERM");
    await child.status;
    await drained;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }

  return { open, close };
}
