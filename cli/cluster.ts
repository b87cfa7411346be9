/**
 * `deno task cluster --replicas N --port P [--proxy nginx|haproxy]`: N replicas of the service
 * on loopback ports P+1..P+N and a proxy (nginx or HAProxy from the system's packages) on P in
 * front, routing each dictionary to one replica by a consistent hash of its id (see
 * deploy/proxy/). Each replica inherits the environment ($SAESERVE_STORE,
 * $SAESERVE_MEMORY_BUDGET, ...); logs go to a temporary folder; Ctrl-C or SIGTERM stops all.
 * @module
 */

import { parseOptions } from "./args.ts";
import { CliError, runCli } from "./run.ts";
import { PROXIES, proxyConfig, type ProxyName } from "./proxy_config.ts";

/** The cluster command's options. */
export const CLUSTER_SPEC = {
  name: "cluster",
  summary: "Run N service replicas behind nginx or HAProxy, routing each dictionary to one.",
  options: {
    replicas: { type: "integer", positive: true, default: 3, description: "Replicas to start." },
    port: { type: "integer", positive: true, default: 8080, description: "The proxy's port." },
    proxy: {
      type: "string",
      choices: PROXIES,
      default: "nginx",
      description: "The proxy in front.",
    },
    "replica-port": {
      type: "integer",
      positive: true,
      description: "First replica's port (default: --port + 1).",
    },
  },
} as const;

/** One replica: where it listens and whether it runs. */
export interface Replica {
  readonly index: number;
  readonly port: number;
  readonly url: string;
  readonly log: string;
  readonly running: boolean;
  /** Its process id while it runs. */
  readonly pid?: number;
}

/** A running cluster. */
export interface Cluster {
  /** The proxy's address (the address clients use). */
  readonly url: string;
  readonly proxy: ProxyName;
  /** The folder holding the proxy's configuration and every log. */
  readonly runDir: string;
  readonly replicas: readonly Replica[];
  /** Stop replica `index` with `signal` (default SIGTERM: it drains) and wait for its exit. */
  stopReplica(index: number, signal?: Deno.Signal): Promise<void>;
  /** Start replica `index` again on its port and wait until it is ready. */
  startReplica(index: number): Promise<void>;
  /** Stop the proxy and every replica, then remove the run folder. */
  stop(): Promise<void>;
}

/** Cluster settings. */
export interface ClusterOptions {
  readonly replicas: number;
  /** The proxy's port (0 is not allowed: the replicas are numbered from it). */
  readonly port: number;
  readonly proxy?: ProxyName;
  /** First replica's port; default port + 1. */
  readonly replicaPort?: number;
  /** Extra environment of the replicas (over this process's). */
  readonly env?: Record<string, string>;
  /** Longest wait for a replica or the proxy to become ready, in ms (default 60000). */
  readonly readyTimeoutMs?: number;
  /** Told when a replica exits that was not stopped (the proxy routes around it), and after. */
  readonly onReplicaExit?: (message: string) => void;
  /**
   * Start a replica that exited on its own again after this many ms (at most 5 times a minute
   * per replica); absent: leave it down.
   */
  readonly restartDelayMs?: number;
}

const HOST = "127.0.0.1";
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const SBIN = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

/** The path of `proxy`'s executable, or undefined when it is not installed. */
export async function findProxy(proxy: ProxyName): Promise<string | undefined> {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== ""), ...SBIN];
  for (const dir of dirs) {
    const path = `${dir}/${proxy}`;
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch { /* not here */ }
  }
  return undefined;
}

interface Child {
  process: Deno.ChildProcess;
  done: Promise<unknown>;
}

/** Start `command` with its output appended to `log`. */
async function spawnLogged(
  command: string,
  args: string[],
  options: { log: string; env?: Record<string, string> },
): Promise<Child> {
  const file = await Deno.open(options.log, { append: true, create: true });
  const process = new Deno.Command(command, {
    args,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Both streams into one file: each chunk written whole, in arrival order.
  const copy = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) await file.write(chunk);
  };
  const done = Promise.all([copy(process.stdout), copy(process.stderr), process.status])
    .finally(() => file.close());
  return { process, done };
}

/** Wait until `url` answers 200, failing when `child` exits first or after `timeoutMs`. */
async function waitReady(url: string, child: Child, timeoutMs: number, what: string) {
  let exited = false;
  child.process.status.then(() => exited = true);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new CliError(`${what} exited before it was ready`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await r.body?.cancel();
      if (r.status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new CliError(`${what} was not ready at ${url} after ${timeoutMs} ms`);
}

async function stopChild(child: Child | undefined, signal: Deno.Signal): Promise<void> {
  if (!child) return;
  try {
    child.process.kill(signal);
  } catch { /* already gone */ }
  await child.done.catch(() => {});
}

/** CliError unless loopback port `port` is free (`flag` names the option that chose it). */
function expectFree(port: number, flag: string): void {
  try {
    Deno.listen({ hostname: HOST, port }).close();
  } catch (e) {
    if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    throw new CliError(`port ${port} is in use; choose free ports with ${flag}`);
  }
}

/** Start `options.replicas` replicas and the proxy in front; resolves once all are ready. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const proxy = options.proxy ?? "nginx";
  const binary = await findProxy(proxy);
  if (!binary) {
    throw new CliError(`${proxy} is not installed (Debian: apt-get install -y ${proxy})`);
  }
  const first = options.replicaPort ?? options.port + 1;
  const timeout = options.readyTimeoutMs ?? 60_000;
  // A port already taken would be "ready" with someone else's service answering on it.
  expectFree(options.port, "--port");
  for (let i = 0; i < options.replicas; i++) expectFree(first + i, "--replica-port");
  const runDir = await Deno.makeTempDir({ prefix: "saeserve-cluster-" });
  // nginx's workers may run as another user: they must reach the temporary paths.
  await Deno.chmod(runDir, 0o755);
  const ports = Array.from({ length: options.replicas }, (_, i) => first + i);
  const children: (Child | undefined)[] = ports.map(() => undefined);
  let proxyChild: Child | undefined;
  let stopping = false;
  const restarts: number[][] = ports.map(() => []);
  const log = (i: number) => `${runDir}/replica-${i + 1}.log`;
  const tell = (message: string) => options.onReplicaExit?.(message);
  /** After replica `i` exited on its own: start it again, unless it keeps dying. */
  const revive = (i: number): string => {
    const delay = options.restartDelayMs;
    if (delay === undefined || stopping) return "nothing restarts it";
    const now = Date.now();
    restarts[i] = restarts[i].filter((t) => now - t < 60_000);
    if (restarts[i].length >= 5) return "it died 5 times within a minute: left down";
    restarts[i].push(now);
    setTimeout(() => {
      if (stopping || children[i]) return;
      startReplica(i).then(
        () => tell(`replica ${i + 1} restarted`),
        (e: Error) => tell(`replica ${i + 1} could not restart: ${e.message}`),
      );
    }, delay);
    return `restarting it in ${delay} ms`;
  };

  const startReplica = async (i: number): Promise<void> => {
    if (children[i]) throw new Error(`replica ${i + 1} is running`);
    const child = await spawnLogged(Deno.execPath(), [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      "--v8-flags=--expose-gc",
      MAIN,
    ], {
      log: log(i),
      env: { ...options.env, PORT: String(ports[i]), HOST },
    });
    children[i] = child;
    child.process.status.then((status) => {
      if (children[i] !== child) return; // stopped on purpose
      children[i] = undefined;
      tell(
        `replica ${i + 1} exited (code ${status.code}${
          status.signal ? `, ${status.signal}` : ""
        }); the proxy routes around it; ${revive(i)}; its log: ${log(i)}`,
      );
    });
    await waitReady(`http://${HOST}:${ports[i]}/readyz`, child, timeout, `replica ${i + 1}`);
  };
  const stopReplica = async (i: number, signal: Deno.Signal = "SIGTERM"): Promise<void> => {
    const child = children[i];
    children[i] = undefined;
    await stopChild(child, signal);
  };
  const stop = async (): Promise<void> => {
    stopping = true;
    await stopChild(proxyChild, "SIGTERM");
    proxyChild = undefined;
    await Promise.all(ports.map((_, i) => stopReplica(i)));
    await Deno.remove(runDir, { recursive: true }).catch(() => {});
  };

  try {
    await Promise.all(ports.map((_, i) => startReplica(i)));
    const config = await proxyConfig(proxy, {
      listen: `${HOST}:${options.port}`,
      replicas: ports.map((p) => `${HOST}:${p}`),
      runDir,
    });
    const configPath = `${runDir}/${proxy === "nginx" ? "nginx.conf" : "haproxy.cfg"}`;
    await Deno.writeTextFile(configPath, config);
    const args = proxy === "nginx"
      ? [
        "-c",
        configPath,
        "-p",
        runDir,
        "-e",
        `${runDir}/proxy.log`,
        "-g",
        `daemon off; pid ${runDir}/nginx.pid;${Deno.uid() === 0 ? " user root;" : ""}`,
      ]
      : ["-db", "-f", configPath];
    proxyChild = await spawnLogged(binary, args, { log: `${runDir}/proxy.log` });
    await waitReady(`http://${HOST}:${options.port}/readyz`, proxyChild, timeout, proxy);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url: `http://${HOST}:${options.port}`,
    proxy,
    runDir,
    get replicas(): Replica[] {
      return ports.map((port, index) => ({
        index,
        port,
        url: `http://${HOST}:${port}`,
        log: log(index),
        running: children[index] !== undefined,
        pid: children[index]?.process.pid,
      }));
    },
    stopReplica,
    startReplica,
    stop,
  };
}

if (import.meta.main) {
  await runCli(CLUSTER_SPEC.name, async () => {
    const o = parseOptions(CLUSTER_SPEC, Deno.args);
    const cluster = await startCluster({
      replicas: o.replicas,
      port: o.port,
      proxy: o.proxy,
      replicaPort: o["replica-port"],
      onReplicaExit: (message) => console.error(`warning: ${message}`),
      restartDelayMs: 1000,
    });
    for (const r of cluster.replicas) {
      console.log(`replica ${r.index + 1}: ${r.url} (log ${r.log})`);
    }
    console.log(`${cluster.proxy}: ${cluster.url} (config and log in ${cluster.runDir})`);
    console.log("Ctrl-C stops everything.");
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      Deno.addSignalListener("SIGINT", stop);
      Deno.addSignalListener("SIGTERM", stop);
    });
    console.log("stopping...");
    await cluster.stop();
  });
}
