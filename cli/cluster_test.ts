import assert from "node:assert/strict";
import { writeTopKDictionary } from "../bench/synthetic_dictionary.ts";
import { type Cluster, findProxy, startCluster } from "./cluster.ts";
import { PROXIES, type ProxyName, renderProxyConfig } from "./proxy_config.ts";

const DICTIONARIES = Array.from({ length: 12 }, (_, i) => `d${String(i).padStart(2, "0")}`);
/** One release's layers: all behind one first folder. */
const NESTED = Array.from({ length: 8 }, (_, i) => `release/layer_${i}`);
const D_IN = 64;
const D_SAE = 512;
/** Weights of one dictionary: W_enc, W_dec, b_enc, b_dec in f32. */
const DICTIONARY_BYTES = (2 * D_IN * D_SAE + D_SAE + D_IN) * 4;
const ROW = JSON.stringify({ activations: [Array.from({ length: D_IN }, (_, i) => i % 7 - 3)] });

/** Which dictionaries each running replica holds, from its /metrics. */
async function placement(cluster: Cluster): Promise<Map<string, number[]>> {
  const held = new Map<string, number[]>();
  for (const r of cluster.replicas.filter((r) => r.running)) {
    const text = await (await fetch(`${r.url}/metrics`)).text();
    for (const m of text.matchAll(/^saeserve_dictionary_loaded\{dictionary="([^"]+)"\} 1$/gm)) {
      held.set(m[1], [...held.get(m[1]) ?? [], r.index]);
    }
  }
  return held;
}

/**
 * The first of `count` consecutive free loopback ports, below Linux's ephemeral range (32768+),
 * so no connection or port-0 listener of a test module running beside this one can take one.
 */
function freePortBlock(count: number): number {
  for (;;) {
    const first = 10000 + Math.floor(Math.random() * (32000 - 10000));
    const held: Deno.Listener[] = [];
    try {
      for (let i = 0; i < count; i++) {
        held.push(Deno.listen({ hostname: "127.0.0.1", port: first + i }));
      }
      return first;
    } catch {
      // one of them is taken: try another block
    } finally {
      for (const l of held) l.close();
    }
  }
}

async function encode(cluster: Cluster, id: string): Promise<number> {
  const r = await fetch(`${cluster.url}/v1/dictionaries/${encodeURIComponent(id)}/encode`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: ROW,
  });
  await r.body?.cancel();
  return r.status;
}

// nginx runs in the suite; the HAProxy scenario (same assertions, 7 s more) is opt-in with
// SAESERVE_CLUSTER_TESTS=all, and its configuration is always checked by `haproxy -c` below.
const ALL = Deno.env.get("SAESERVE_CLUSTER_TESTS") === "all";
for (const proxy of PROXIES) {
  const binary = await findProxy(proxy);
  if (!binary) {
    console.warn(
      `cluster_test: ${proxy} is not installed (apt-get install -y ${proxy}): its test is skipped`,
    );
  }
  Deno.test({
    name: `${proxy} in front of 3 replicas: one replica per dictionary, failover and return`,
    ignore: !binary || (proxy === "haproxy" && !ALL),
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () => clusterScenario(proxy),
  });
}

async function clusterScenario(proxy: ProxyName): Promise<void> {
  const store = await Deno.makeTempDir({ prefix: "saeserve-cluster-store-" });
  for (const name of [...DICTIONARIES, ...NESTED]) {
    await writeTopKDictionary(store, { name, dIn: D_IN, dSae: D_SAE, k: 8 });
  }
  const exits: string[] = [];
  const cluster = await startCluster({
    onReplicaExit: (message) => exits.push(message),
    restartDelayMs: 200,
    replicas: 3,
    port: freePortBlock(4),
    proxy,
    env: {
      SAESERVE_STORE: `file://${store}`,
      SAESERVE_BACKEND: "reference",
      // Room for all 12 on any replica: the hash ring decides the placement, and with random
      // ports it can route 8 of the 12 to one replica (a smaller budget then evicted one).
      SAESERVE_MEMORY_BUDGET: String(21 * DICTIONARY_BYTES),
      SAESERVE_LOG: "off",
      SAESERVE_SHUTDOWN_GRACE_MS: "5000",
    },
  });
  try {
    // The lists pass through the proxy (nginx answered them with a 301 once).
    for (const list of ["/v1/dictionaries", "/v1/aligned"]) {
      const res = await fetch(cluster.url + list, { redirect: "manual" });
      assert.equal(res.status, 200, list);
      await res.body?.cancel();
    }
    // Ids nested in one release hash by their whole id, not by the release's first folder.
    for (const id of NESTED) assert.equal(await encode(cluster, id), 200, id);
    const nested = await placement(cluster);
    const holders = new Set(NESTED.map((id) => nested.get(id)?.[0]));
    assert.ok(holders.size >= 2, `every ${NESTED[0]}... on one replica: ${[...holders]}`);
    for (const id of DICTIONARIES) assert.equal(await encode(cluster, id), 200, id);
    const first = await placement(cluster);
    for (const id of DICTIONARIES) {
      assert.equal(
        first.get(id)?.length,
        1,
        `${id} is held by ${first.get(id) ?? "none"}: ${JSON.stringify([...first])}`,
      );
    }
    const counts = [0, 1, 2].map((i) => DICTIONARIES.filter((id) => first.get(id)![0] === i));
    assert.ok(counts.filter((c) => c.length > 0).length >= 2, "the dictionaries spread");
    const victim = counts.findIndex((c) => c.length === Math.max(...counts.map((c) => c.length)));
    const moved = counts[victim];

    // Clients keep sending while the busiest replica is stopped (SIGTERM: it drains).
    const statuses = new Map<number, number>();
    let running = true;
    const client = async (offset: number) => {
      for (let i = offset; running; i++) {
        const status = await encode(cluster, DICTIONARIES[i % DICTIONARIES.length])
          .catch(() => -1);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    const clients = [0, 3, 6, 9].map(client);
    await new Promise((r) => setTimeout(r, 500));
    await cluster.stopReplica(victim);
    await new Promise((r) => setTimeout(r, 2000));
    running = false;
    await Promise.all(clients);
    assert.deepEqual([...statuses.keys()], [200], `statuses ${JSON.stringify([...statuses])}`);
    assert.ok(statuses.get(200)! > 20);

    // Its dictionaries are now loaded by the others (with HAProxy, a retry redispatched before
    // the health check marked the replica down may have loaded one on a second survivor too).
    for (const id of moved) {
      assert.equal(await encode(cluster, id), 200);
      const holders = (await placement(cluster)).get(id) ?? [];
      assert.ok(holders.length >= 1 && !holders.includes(victim), `${id} on ${holders}`);
    }

    // Started again, it gets its dictionaries back (after the proxy sees it healthy).
    await cluster.startReplica(victim);
    const deadline = Date.now() + 20_000;
    let back: string[] = [];
    while (Date.now() < deadline) {
      for (const id of moved) assert.equal(await encode(cluster, id), 200);
      const now = await placement(cluster);
      back = moved.filter((id) => now.get(id)?.includes(victim));
      if (back.length === moved.length) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.deepEqual(back, moved, "the first placement is restored");
    assert.deepEqual(exits, [], "a replica stopped on purpose is not reported as exited");
    // One that dies is reported, and started again.
    Deno.kill(cluster.replicas[victim].pid!, "SIGKILL");
    for (let t = 0; t < 50 && exits.length === 0; t++) await new Promise((r) => setTimeout(r, 100));
    assert.match(
      exits[0] ?? "",
      new RegExp(`^replica ${victim + 1} exited \\(code \\d+, SIGKILL\\).*restarting it in 200 ms`),
    );
    for (let t = 0; t < 200 && exits.length < 2; t++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(exits[1], `replica ${victim + 1} restarted`);
    assert.ok(cluster.replicas[victim].running);
    assert.equal(await encode(cluster, moved[0]), 200);
  } finally {
    await cluster.stop();
    await Deno.remove(store, { recursive: true });
  }
}

Deno.test("proxy configs come from deploy/proxy with one line per replica", async () => {
  for (const proxy of PROXIES) {
    const file = proxy === "nginx" ? "nginx.conf" : "haproxy.cfg";
    const reference = await Deno.readTextFile(new URL(`../deploy/proxy/${file}`, import.meta.url));
    const text = renderProxyConfig(reference, {
      proxy,
      listen: "127.0.0.1:9000",
      replicas: ["127.0.0.1:9001", "127.0.0.1:9002"],
      runDir: "/run/x",
    });
    const replicas = text.split("\n").filter((l) => /# replica$/.test(l));
    assert.equal(replicas.length, 2);
    assert.match(replicas[0], /127\.0\.0\.1:9001/);
    assert.match(replicas[1], /127\.0\.0\.1:9002/);
    assert.match(text, proxy === "nginx" ? /listen 127\.0\.0\.1:9000;/ : /bind 127\.0\.0\.1:9000/);
    assert.match(
      text,
      proxy === "nginx" ? /hash \$saeserve_key consistent/ : /hash-type consistent/,
    );
    assert.match(text, proxy === "nginx" ? /http_503 non_idempotent/ : /retry-on .*503/);
    if (proxy === "nginx") assert.match(text, /client_body_temp_path \/run\/x\/client_body_temp;/);
    else assert.match(text, /option httpchk GET \/readyz/);
  }
});

Deno.test({
  name: "the rendered HAProxy configuration is valid (haproxy -c)",
  ignore: !(await findProxy("haproxy")),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "saeserve-haproxy-" });
    try {
      const reference = await Deno.readTextFile(
        new URL("../deploy/proxy/haproxy.cfg", import.meta.url),
      );
      const text = renderProxyConfig(reference, {
        proxy: "haproxy",
        listen: "127.0.0.1:9000",
        replicas: ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"],
        runDir: dir,
      });
      await Deno.writeTextFile(`${dir}/haproxy.cfg`, text);
      const out = await new Deno.Command((await findProxy("haproxy"))!, {
        args: ["-c", "-f", `${dir}/haproxy.cfg`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a port already taken stops the cluster before anything starts, naming the option",
  ignore: !(await findProxy("nginx")),
  async fn() {
    const port = freePortBlock(3);
    const taken = Deno.listen({ hostname: "127.0.0.1", port: port + 2 });
    try {
      await assert.rejects(
        startCluster({ replicas: 2, port, proxy: "nginx", env: {} }),
        new RegExp(`port ${port + 2} is in use; choose free ports with --replica-port`),
      );
    } finally {
      taken.close();
    }
  },
});
