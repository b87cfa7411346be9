import assert from "node:assert/strict";
import { readRange } from "../../domain/io/byte_source.ts";
import { SaeError } from "../../domain/errors.ts";
import { hfStore } from "./hf.ts";
import { randomBytes } from "../../tests/random_bytes.ts";
import { isKind, rejection } from "../../tests/sae_errors.ts";

const TOKEN = "hf_test_token_Zx81Kq";

async function failure(promise: Promise<unknown>): Promise<SaeError> {
  const error = await rejection(promise);
  assert.ok(!error.message.includes(TOKEN), "an error quotes the token");
  return error;
}

/** One file in a fake Hub repository; `lfs` files are served from the CDN by redirect. */
interface HubFile {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly lfs?: boolean;
}

/** One revision of a fake Hub repository. */
interface HubRepo {
  readonly kind: "models" | "datasets";
  readonly id: string;
  readonly revision: string;
  readonly private?: boolean;
  readonly files: Record<string, HubFile>;
}

/** What the fake Hub and its CDN saw. */
interface Seen {
  /** "METHOD path" of every Hub request. */
  hub: string[];
  /** Authorization headers that reached the Hub and the CDN. */
  hubAuth: (string | null)[];
  cdnAuth: (string | null)[];
}

/** A 200, 206 or 416 answer to `req` for `bytes`, honouring a `bytes=a-b` Range. */
function ranged(req: Request, bytes: Uint8Array<ArrayBuffer>): Response {
  if (req.method === "HEAD") {
    return new Response(null, { headers: { "content-length": String(bytes.byteLength) } });
  }
  const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.get("range") ?? "");
  if (!range) return new Response(bytes);
  const start = Number(range[1]);
  if (start >= bytes.byteLength) {
    return new Response(null, {
      status: 416,
      headers: { "content-range": `bytes */${bytes.byteLength}` },
    });
  }
  const end = Math.min(Number(range[2]), bytes.byteLength - 1);
  return new Response(bytes.slice(start, end + 1), {
    status: 206,
    headers: { "content-range": `bytes ${start}-${end}/${bytes.byteLength}` },
  });
}

/**
 * A fake Hugging Face Hub on a real socket: the resolve layout
 * `/{datasets/}{org}/{repo}/resolve/{rev}/{path}`, the tree API
 * `/api/{models|datasets}/{org}/{repo}/tree/{rev}/{path}?recursive=true` paged two entries at a
 * time with Link headers, bearer tokens for private repositories, and LFS files redirected
 * to a CDN on another origin.
 */
function startHub(repos: HubRepo[]): { endpoint: string; seen: Seen; close(): Promise<void> } {
  const seen: Seen = { hub: [], hubAuth: [], cdnAuth: [] };
  const blobs = new Map<string, Uint8Array<ArrayBuffer>>();
  const cdn = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    seen.cdnAuth.push(req.headers.get("authorization"));
    const blob = blobs.get(new URL(req.url).pathname.slice("/blobs/".length));
    return blob ? ranged(req, blob) : new Response(null, { status: 404 });
  });
  const cdnBase = `http://127.0.0.1:${cdn.addr.port}`;

  const find = (req: Request, kind: string, id: string, revision: string): HubRepo | Response => {
    const repo = repos.find((r) => r.kind === kind && r.id === id && r.revision === revision);
    if (!repo) return Response.json({ error: "Repository not found" }, { status: 404 });
    if (repo.private && req.headers.get("authorization") !== `Bearer ${TOKEN}`) {
      return Response.json({ error: "Invalid credentials" }, { status: 401 });
    }
    return repo;
  };

  const hub = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const url = new URL(req.url);
    seen.hub.push(`${req.method} ${url.pathname}`);
    seen.hubAuth.push(req.headers.get("authorization"));
    const tree = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(
      url.pathname,
    );
    if (tree) {
      const repo = find(req, tree[1], tree[2], decodeURIComponent(tree[3]));
      if (repo instanceof Response) return repo;
      const folder = decodeURIComponent(tree[4] ?? "");
      const entries = treeEntries(repo.files).filter((e) =>
        folder === "" || e.path.startsWith(`${folder}/`)
      );
      if (folder !== "" && entries.length === 0) {
        return Response.json({ error: "Entry not found" }, { status: 404 });
      }
      const cursor = Number(url.searchParams.get("cursor") ?? "0");
      const headers = new Headers();
      if (cursor + 2 < entries.length) {
        const next = new URL(url);
        next.searchParams.set("cursor", String(cursor + 2));
        headers.set("link", `<${next}>; rel="next"`);
      }
      return Response.json(entries.slice(cursor, cursor + 2), { headers });
    }
    const resolve = /^\/(?:(datasets)\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(
      url.pathname,
    );
    if (resolve) {
      const repo = find(req, resolve[1] ?? "models", resolve[2], decodeURIComponent(resolve[3]));
      if (repo instanceof Response) return repo;
      const file = repo.files[decodeURIComponent(resolve[4])];
      if (!file) {
        return new Response("Entry not found", {
          status: 404,
          headers: { "x-error-code": "EntryNotFound" },
        });
      }
      if (!file.lfs) return ranged(req, file.bytes);
      const blob = crypto.randomUUID();
      blobs.set(blob, file.bytes);
      return new Response(null, { status: 302, headers: { location: `${cdnBase}/blobs/${blob}` } });
    }
    return new Response(null, { status: 404 });
  });
  return {
    endpoint: `http://127.0.0.1:${hub.addr.port}`,
    seen,
    close: async () => {
      await hub.shutdown();
      await cdn.shutdown();
    },
  };
}

/** One entry of the Hub's tree API. */
interface TreeEntry {
  readonly type: "file" | "directory";
  readonly oid: string;
  readonly path: string;
  readonly size: number;
  readonly lfs?: { oid: string; size: number };
}

/** The Hub's tree listing: every file, plus the folders above them, sorted. */
function treeEntries(files: Record<string, HubFile>): TreeEntry[] {
  const folders = new Set<string>();
  const out: TreeEntry[] = [];
  for (const [path, file] of Object.entries(files)) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) folders.add(parts.slice(0, i).join("/"));
    const size = file.bytes.byteLength;
    out.push({
      type: "file",
      oid: "0",
      path,
      size,
      ...(file.lfs ? { lfs: { oid: "1", size } } : {}),
    });
  }
  for (const path of folders) out.push({ type: "directory", oid: "0", path, size: 0 });
  return out.sort((a, b) => a.path < b.path ? -1 : 1);
}

const CFG = new TextEncoder().encode('{"d_in": 16}');
const WEIGHTS = randomBytes(2 * (1 << 20) + 3);
const V1_CFG = new TextEncoder().encode('{"d_in": 32}');
const PARAMS = randomBytes(4096);

const REPOS: HubRepo[] = [
  {
    kind: "models",
    id: "org/saes",
    revision: "main",
    files: {
      "README.md": { bytes: new TextEncoder().encode("# saes") },
      "layer_3/cfg.json": { bytes: CFG },
      "layer_3/sae_weights.safetensors": { bytes: WEIGHTS, lfs: true },
      "layer_4/params.npz": { bytes: PARAMS, lfs: true },
    },
  },
  {
    kind: "models",
    id: "org/saes",
    revision: "v1",
    files: { "layer_3/cfg.json": { bytes: V1_CFG } },
  },
  {
    kind: "models",
    id: "org/saes",
    revision: "refs/pr/1",
    files: { "x/cfg.json": { bytes: CFG } },
  },
  {
    kind: "datasets",
    id: "org/acts",
    revision: "main",
    files: { "d/params.npz": { bytes: PARAMS } },
  },
  {
    kind: "models",
    id: "org/private-saes",
    revision: "main",
    private: true,
    files: { "p/params.npz": { bytes: PARAMS, lfs: true } },
  },
];

Deno.test("hfStore against a fake Hub on a real socket", async (t) => {
  const hub = startHub(REPOS);
  const env = { HF_ENDPOINT: `${hub.endpoint}/`, HF_TOKEN: TOKEN };
  const store = hfStore(new URL("hf://org/saes"), env, { retryDelayMs: 5 });
  try {
    await t.step("describe names the repository, never the token", () => {
      assert.equal(store.describe, "hf://org/saes");
      assert.equal(hfStore(new URL("hf://org/saes@v1"), env).describe, "hf://org/saes@v1");
    });

    await t.step("list walks the recursive tree through Link pages, files only", async () => {
      const pages = (): number => hub.seen.hub.filter((s) => s.includes("/tree/")).length;
      assert.deepEqual(await store.list(""), [
        { path: "README.md", size: 6 },
        { path: "layer_3/cfg.json", size: CFG.byteLength },
        { path: "layer_3/sae_weights.safetensors", size: WEIGHTS.byteLength },
        { path: "layer_4/params.npz", size: PARAMS.byteLength },
      ]);
      assert.equal(pages(), 3, "four files and two folders, two entries a page");
      assert.deepEqual(await store.list("layer_3"), [
        { path: "layer_3/cfg.json", size: CFG.byteLength },
        { path: "layer_3/sae_weights.safetensors", size: WEIGHTS.byteLength },
      ]);
      assert.deepEqual(await store.list("layer_9/"), [], "a missing folder lists nothing");
      assert.ok(hub.seen.hub.includes("GET /api/models/org/saes/tree/main/layer_3"));
    });

    await t.step("open reads {repo}/resolve/{rev}/{path}, LFS files via the CDN", async () => {
      const cfg = await store.open("layer_3/cfg.json");
      assert.deepEqual(await readRange(cfg, { offset: 0, length: cfg.size }), CFG);
      assert.ok(hub.seen.hub.includes("HEAD /org/saes/resolve/main/layer_3/cfg.json"));
      const weights = await store.open("layer_3/sae_weights.safetensors");
      assert.equal(weights.size, WEIGHTS.byteLength);
      for (const [offset, length] of [[0, 8], [1_000_000, 1_048_579]]) {
        assert.deepEqual(
          await readRange(weights, { offset, length }),
          WEIGHTS.subarray(offset, offset + length),
        );
      }
    });

    await t.step("the token goes to the Hub, never to the CDN on another origin", () => {
      assert.ok(hub.seen.hubAuth.length > 0);
      assert.ok(hub.seen.hubAuth.every((a) => a === `Bearer ${TOKEN}`));
      assert.ok(hub.seen.cdnAuth.length >= 3);
      assert.ok(hub.seen.cdnAuth.every((a) => a === null), "the CDN saw the token");
    });

    await t.step("@REV picks the revision; a slash in it is written %2F", async () => {
      const v1 = hfStore(new URL("hf://org/saes@v1"), env);
      assert.deepEqual(
        await readRange(await v1.open("layer_3/cfg.json"), {
          offset: 0,
          length: V1_CFG.byteLength,
        }),
        V1_CFG,
      );
      const pr = hfStore(new URL("hf://org/saes@refs%2Fpr%2F1"), env);
      assert.equal(pr.describe, "hf://org/saes@refs%2Fpr%2F1");
      assert.deepEqual(await pr.list(""), [{ path: "x/cfg.json", size: CFG.byteLength }]);
      assert.equal((await pr.open("x/cfg.json")).size, CFG.byteLength);
      assert.ok(hub.seen.hub.includes("HEAD /org/saes/resolve/refs%2Fpr%2F1/x/cfg.json"));
    });

    await t.step("a folder after the repository roots the store there", async () => {
      const layer = hfStore(new URL("hf://org/saes/layer_3"), env);
      assert.equal(layer.describe, "hf://org/saes/layer_3");
      assert.deepEqual((await layer.list("")).map((e) => e.path), [
        "cfg.json",
        "sae_weights.safetensors",
      ]);
      assert.equal((await layer.open("cfg.json")).size, CFG.byteLength);
    });

    await t.step("datasets use the datasets/ layout", async () => {
      const data = hfStore(new URL("hf://datasets/org/acts"), env);
      assert.equal(data.describe, "hf://datasets/org/acts");
      assert.deepEqual(await data.list(""), [{ path: "d/params.npz", size: PARAMS.byteLength }]);
      assert.deepEqual(
        await readRange(await data.open("d/params.npz"), { offset: 0, length: 10 }),
        PARAMS.subarray(0, 10),
      );
      assert.ok(hub.seen.hub.includes("HEAD /datasets/org/acts/resolve/main/d/params.npz"));
    });

    await t.step("a private repository needs HF_TOKEN", async () => {
      const anonymous = hfStore(new URL("hf://org/private-saes"), { HF_ENDPOINT: hub.endpoint });
      const denied = await failure(anonymous.open("p/params.npz"));
      assert.equal(denied.kind, "unavailable");
      assert.match(denied.message, /access denied \(401\)/);
      await assert.rejects(anonymous.ping(), isKind("unavailable"));
      const allowed = hfStore(new URL("hf://org/private-saes"), env);
      await allowed.ping();
      assert.equal((await allowed.open("p/params.npz")).size, PARAMS.byteLength);
    });

    await t.step("missing files are not_found; traversal is not_found and never sent", async () => {
      assert.equal((await failure(store.open("layer_3/nope.bin"))).kind, "not_found");
      const before = hub.seen.hub.length;
      for (const path of ["../other/x", "layer_3/../../x", "/etc/passwd", "a\\b"]) {
        await assert.rejects(store.open(path), isKind("not_found"), path);
      }
      await assert.rejects(store.list(".."), isKind("not_found"));
      assert.equal(hub.seen.hub.length, before);
    });

    await t.step("an unknown repository or revision makes list and ping unavailable", async () => {
      const gone = hfStore(new URL("hf://org/saes@no-such-rev"), env);
      const listed = await failure(gone.list(""));
      assert.equal(listed.kind, "unavailable");
      assert.match(listed.message, /repository or revision not found/);
      assert.equal((await failure(gone.ping())).kind, "unavailable");
    });
  } finally {
    await hub.close();
  }
  // Nothing listens there any more.
  const down = hfStore(new URL("hf://org/saes"), env, { retryDelayMs: 1 });
  assert.equal((await failure(down.open("layer_3/cfg.json"))).kind, "unavailable");
  assert.equal((await failure(down.list(""))).kind, "unavailable");
  assert.equal((await failure(down.ping())).kind, "unavailable");
});

Deno.test("hfStore uses https://huggingface.co unless HF_ENDPOINT says otherwise", async () => {
  const seen: string[] = [];
  const fake = ((input: URL, init?: RequestInit) => {
    seen.push(`${input} ${new Headers(init?.headers).get("authorization")}`);
    return Promise.resolve(new Response(null, { status: 200, headers: { "content-length": "3" } }));
  }) as typeof fetch;
  await hfStore(new URL("hf://google/gemma-scope-2b-pt-res"), {}, { fetch: fake })
    .open("layer_20/width_16k/average_l0_71/params.npz");
  await hfStore(new URL("hf://org/r@v2.0"), { HF_TOKEN: "t" }, { fetch: fake }).open("a b.bin");
  assert.deepEqual(seen, [
    "https://huggingface.co/google/gemma-scope-2b-pt-res/resolve/main/layer_20/width_16k/average_l0_71/params.npz null",
    "https://huggingface.co/org/r/resolve/v2.0/a%20b.bin Bearer t",
  ]);
});

Deno.test("hfStore refuses addresses that are not hf://ORG/REPO[@REV][/FOLDER]", () => {
  for (
    const address of [
      "hf://org",
      "hf://org/",
      "hf://org/re$po",
      "hf://org/repo@",
      "hf://user:secret@org/repo",
      "hf://org:1/repo",
      "hf://org/repo/a%2F..%2F..%2Fx",
      "https://huggingface.co/org/repo",
    ]
  ) {
    assert.throws(() => hfStore(new URL(address), {}), isKind("invalid"), address);
  }
  assert.throws(
    () => hfStore(new URL("hf://org/repo"), { HF_ENDPOINT: "not a url" }),
    isKind("invalid"),
  );
});
