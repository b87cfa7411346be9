/**
 * A real S3 server for store tests: s3rver on a loopback port with bucket "b".
 * @module
 */

import S3rver from "s3rver";

/** s3rver's own Node http.Server, to drop live connections when stopping it mid-read. */
type Running = { httpServer?: { closeAllConnections?(): void } };

/**
 * Start s3rver with bucket "b" over `directory`, on `options.port`, by default a free port below
 * Linux's ephemeral range (32768+): a test that stops s3rver and starts it again on the same port
 * must not find that port taken meanwhile by a module running beside it.
 */
export async function startS3rver(
  directory: string,
  options?: { port?: number },
): Promise<{ server: S3rver; port: number }> {
  for (let attempt = 0;; attempt++) {
    const port = options?.port ?? 20000 + Math.floor(Math.random() * 12000);
    const server = new S3rver({
      port,
      address: "127.0.0.1",
      silent: true,
      directory,
      configureBuckets: [{ name: "b" }],
    });
    try {
      const address = await server.run();
      return { server, port: address.port };
    } catch (e) {
      const taken = (e as { code?: string }).code === "EADDRINUSE";
      if (!taken || options?.port !== undefined || attempt >= 20) throw e;
    }
  }
}

/**
 * Stop s3rver at once, breaking any answer still being sent and dropping idle keep-alive
 * connections. Tests stop it only this way: a plain `close()` waits for every connection to end,
 * and a store's pooled connection once held a test there for over two minutes.
 */
export async function stopS3rver(server: S3rver): Promise<void> {
  (server as unknown as Running).httpServer?.closeAllConnections?.();
  await server.close();
}
