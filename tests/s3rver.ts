/**
 * A real S3 server for store tests: s3rver on a loopback port with bucket "b".
 * @module
 */

import S3rver from "s3rver";

/** s3rver's own Node http.Server, to drop live connections when stopping it mid-read. */
type Running = { httpServer?: { closeAllConnections?(): void } };

/** Start s3rver with bucket "b" over `directory`, on `options.port` (default 0: any free port). */
export async function startS3rver(
  directory: string,
  options?: { port?: number },
): Promise<{ server: S3rver; port: number }> {
  const server = new S3rver({
    port: options?.port ?? 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: [{ name: "b" }],
  });
  const address = await server.run();
  return { server, port: address.port };
}

/** Stop s3rver at once, breaking any answer still being sent. */
export async function stopS3rver(server: S3rver): Promise<void> {
  (server as unknown as Running).httpServer?.closeAllConnections?.();
  await server.close();
}
