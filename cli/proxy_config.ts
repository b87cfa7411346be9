/**
 * The proxy configurations of `deno task cluster`, made from the reference files in
 * deploy/proxy/ (one source for both): the lines marked `# replica` become one line per
 * replica, the line marked `# listen` the proxy's address, and nginx gets its temporary paths
 * in the run folder.
 * @module
 */

/** The proxies the cluster command can run. */
export const PROXIES = ["nginx", "haproxy"] as const;

/** One of {@link PROXIES}. */
export type ProxyName = typeof PROXIES[number];

const REFERENCE: Record<ProxyName, URL> = {
  nginx: new URL("../deploy/proxy/nginx.conf", import.meta.url),
  haproxy: new URL("../deploy/proxy/haproxy.cfg", import.meta.url),
};

/** Where the proxy listens and where its replicas are. */
export interface ProxyLayout {
  /** host:port the proxy listens on. */
  readonly listen: string;
  /** host:port of each replica, in order. */
  readonly replicas: readonly string[];
  /** A folder the proxy may write (nginx's temporary files). */
  readonly runDir: string;
}

/** The configuration text of `proxy` for `layout`, from the reference file. */
export async function proxyConfig(proxy: ProxyName, layout: ProxyLayout): Promise<string> {
  return renderProxyConfig(await Deno.readTextFile(REFERENCE[proxy]), { proxy, ...layout });
}

/** {@link proxyConfig} from the reference text `reference` (pure, for tests). */
export function renderProxyConfig(
  reference: string,
  options: ProxyLayout & { proxy: ProxyName },
): string {
  const out: string[] = [];
  let replicaLine: string | undefined;
  for (const line of reference.split("\n")) {
    if (/#\s*replica\s*$/.test(line)) {
      if (replicaLine === undefined) {
        replicaLine = line;
        out.push(...options.replicas.map((address, i) => replicaFor(line, address, i)));
      }
      continue;
    }
    if (/#\s*listen\s*$/.test(line)) {
      out.push(
        line.replace(
          /(listen|bind)\s+\S+?;?(\s+#)/,
          (_, word, tail) => `${word} ${options.listen}${word === "listen" ? ";" : ""}${tail}`,
        ),
      );
      continue;
    }
    out.push(line);
    if (options.proxy === "nginx" && /^http\s*\{/.test(line)) {
      for (const kind of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) {
        out.push(`    ${kind}_temp_path ${options.runDir}/${kind}_temp;`);
      }
    }
  }
  if (replicaLine === undefined) {
    throw new Error(`no "# replica" line in the ${options.proxy} file`);
  }
  return out.join("\n");
}

function replicaFor(line: string, address: string, index: number): string {
  return line
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}:\d+/, address)
    .replace(/\bserver r\d+\b/, `server r${index + 1}`);
}
