import assert from "node:assert/strict";
import { join } from "node:path";
import { readRange } from "../../domain/io/byte_source.ts";
import { SaeError } from "../../domain/errors.ts";
import { fileStore } from "./file.ts";
import { randomBytes } from "../../tests/random_bytes.ts";
import { isKind } from "../../tests/sae_errors.ts";

async function withFolder(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-file-store-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("fileStore lists files recursively with sizes, sorted, skipping dotfiles", async () => {
  await withFolder(async (dir) => {
    await Deno.mkdir(join(dir, "a/b"), { recursive: true });
    await Deno.mkdir(join(dir, ".git"));
    await Deno.writeFile(join(dir, "a/b/w.npz"), new Uint8Array(10));
    await Deno.writeFile(join(dir, "a/cfg.json"), new Uint8Array(3));
    await Deno.writeFile(join(dir, "top.txt"), new Uint8Array(0));
    await Deno.writeFile(join(dir, "a/.hidden"), new Uint8Array(1));
    await Deno.writeFile(join(dir, ".git/config"), new Uint8Array(1));
    const store = fileStore(dir);
    assert.deepEqual(await store.list(""), [
      { path: "a/b/w.npz", size: 10 },
      { path: "a/cfg.json", size: 3 },
      { path: "top.txt", size: 0 },
    ]);
  });
});

Deno.test("fileStore.list treats the prefix as a folder, with or without a trailing slash", async () => {
  await withFolder(async (dir) => {
    await Deno.mkdir(join(dir, "demo/x"), { recursive: true });
    await Deno.mkdir(join(dir, "demo-topk"));
    await Deno.writeFile(join(dir, "demo/x/f"), new Uint8Array(2));
    await Deno.writeFile(join(dir, "demo-topk/g"), new Uint8Array(1));
    const store = fileStore(dir);
    assert.deepEqual(await store.list("demo/"), [{ path: "demo/x/f", size: 2 }]);
    assert.deepEqual(await store.list("demo"), [{ path: "demo/x/f", size: 2 }]);
    assert.deepEqual(await store.list("missing/"), []);
    assert.deepEqual(await store.list("demo/x/f"), [], "a file is not a folder");
  });
});

Deno.test("fileStore.open streams exact ranges, across chunk boundaries", async () => {
  await withFolder(async (dir) => {
    const bytes = randomBytes(3 * (1 << 20) + 12345);
    await Deno.writeFile(join(dir, "big.bin"), bytes);
    const source = await fileStore(dir).open("big.bin");
    assert.equal(source.size, bytes.byteLength);
    for (
      const [offset, length] of [
        [0, bytes.byteLength],
        [0, 1],
        [1_000_000, 2_100_000],
        [bytes.byteLength - 7, 7],
        [500, 0],
        [bytes.byteLength, 0],
      ]
    ) {
      assert.deepEqual(
        await readRange(source, { offset, length }),
        bytes.subarray(offset, offset + length),
        `range ${offset}+${length}`,
      );
    }
  });
});

Deno.test("fileStore streams hand out pieces of at most 1 MiB", async () => {
  await withFolder(async (dir) => {
    await Deno.writeFile(join(dir, "f"), randomBytes(5 << 20));
    const source = await fileStore(dir).open("f");
    let pieces = 0;
    for await (const piece of await source.stream(10, (5 << 20) - 10)) {
      assert.ok(piece.byteLength <= 1 << 20);
      pieces++;
    }
    assert.ok(pieces >= 5);
  });
});

Deno.test("fileStore stream cancelled midway closes its file handle", async () => {
  await withFolder(async (dir) => {
    await Deno.writeFile(join(dir, "f"), randomBytes(4 << 20));
    const source = await fileStore(dir).open("f");
    const reader = (await source.stream(0, 4 << 20)).getReader();
    await reader.read();
    await reader.cancel();
    // The test sanitizer fails this test if the handle stayed open.
  });
});

Deno.test("fileStore.open of a missing file or a folder is not_found", async () => {
  await withFolder(async (dir) => {
    await Deno.mkdir(join(dir, "sub"));
    const store = fileStore(dir);
    await assert.rejects(store.open("nope.bin"), isKind("not_found"));
    await assert.rejects(store.open("sub"), isKind("not_found"));
    await assert.rejects(store.open("sub/deeper/x"), isKind("not_found"));
  });
});

Deno.test("fileStore.put writes atomically, creating folders and replacing old content", async () => {
  await withFolder(async (dir) => {
    const store = fileStore(join(dir, "root"));
    const first = randomBytes(1000);
    await store.put!("x/y/z.bin", first);
    assert.deepEqual(await Deno.readFile(join(dir, "root/x/y/z.bin")), first);
    const second = randomBytes(10);
    await store.put!("x/y/z.bin", second);
    assert.deepEqual(
      await readRange(await store.open("x/y/z.bin"), { offset: 0, length: 10 }),
      second,
    );
    const names = [...Deno.readDirSync(join(dir, "root/x/y"))].map((e) => e.name);
    assert.deepEqual(names, ["z.bin"], "no temporary file is left behind");
    assert.deepEqual(await store.list(""), [{ path: "x/y/z.bin", size: 10 }]);
  });
});

Deno.test("fileStore refuses traversal: reads as not_found, writes as invalid", async () => {
  await withFolder(async (dir) => {
    await Deno.mkdir(join(dir, "root"));
    await Deno.writeFile(join(dir, "secret.txt"), new TextEncoder().encode("secret"));
    const store = fileStore(join(dir, "root"));
    for (
      const path of [
        "../secret.txt",
        "a/../../secret.txt",
        join(dir, "secret.txt"),
        "..\\secret.txt",
        "secret.txt\0",
      ]
    ) {
      await assert.rejects(store.open(path), isKind("not_found"), path);
      await assert.rejects(store.put!(path, new Uint8Array(1)), isKind("invalid"), path);
    }
    await assert.rejects(store.list("../"), isKind("not_found"));
    await assert.rejects(store.list("/"), isKind("not_found"));
    assert.equal(new TextDecoder().decode(await Deno.readFile(join(dir, "secret.txt"))), "secret");
    // Percent-escapes are not decoded here: "%2e%2e" is a folder name inside the root.
    await store.put!("%2e%2e/secret.txt", new Uint8Array(1));
    assert.deepEqual(await store.list(""), [{ path: "%2e%2e/secret.txt", size: 1 }]);
  });
});

Deno.test("fileStore ranges must be whole, non-negative and inside the file", async () => {
  await withFolder(async (dir) => {
    await Deno.writeFile(join(dir, "f"), new Uint8Array(10));
    const source = await fileStore(dir).open("f");
    for (const [offset, length] of [[5, 6], [-1, 2], [0.5, 1], [0, NaN], [11, 0], [0, Infinity]]) {
      await assert.rejects(
        source.stream(offset, length),
        isKind("malformed"),
        `${offset}+${length}`,
      );
    }
  });
});

Deno.test("fileStore refuses symlinks that escape the root, and follows those inside it", async () => {
  await withFolder(async (dir) => {
    await Deno.mkdir(join(dir, "root/real"), { recursive: true });
    await Deno.mkdir(join(dir, "outside"));
    await Deno.writeFile(join(dir, "outside/secret.txt"), new Uint8Array(6));
    await Deno.writeFile(join(dir, "root/real/w.bin"), new Uint8Array(4));
    await Deno.symlink(join(dir, "outside/secret.txt"), join(dir, "root/link.txt"));
    await Deno.symlink(join(dir, "outside"), join(dir, "root/out"));
    await Deno.symlink(join(dir, "root/real/w.bin"), join(dir, "root/alias.bin"));
    await Deno.symlink(join(dir, "root"), join(dir, "root/real/loop"));
    const store = fileStore(join(dir, "root"));
    await assert.rejects(store.open("link.txt"), isKind("not_found"));
    await assert.rejects(store.open("out/secret.txt"), isKind("not_found"));
    await assert.rejects(store.put!("out/new.txt", new Uint8Array(1)), isKind("invalid"));
    await assert.rejects(store.put!("out/deeper/new.txt", new Uint8Array(1)), isKind("invalid"));
    assert.deepEqual([...Deno.readDirSync(join(dir, "outside"))].map((e) => e.name), [
      "secret.txt",
    ]);
    assert.equal((await store.open("alias.bin")).size, 4);
    assert.deepEqual(await store.list(""), [
      { path: "alias.bin", size: 4 },
      { path: "real/w.bin", size: 4 },
    ]);
    assert.deepEqual(await store.list("out"), []);
  });
});

Deno.test("fileStore.ping fails with unavailable when the root is missing", async () => {
  await withFolder(async (dir) => {
    await fileStore(dir).ping();
    const missing = fileStore(join(dir, "nope"));
    await assert.rejects(missing.ping(), isKind("unavailable"));
    await assert.rejects(missing.list(""), isKind("unavailable"));
  });
});

Deno.test("fileStore.describe names the absolute root as a file URL", () => {
  assert.equal(fileStore("/srv/dicts").describe, "file:///srv/dicts");
  assert.equal(fileStore("rel").describe, `file://${join(Deno.cwd(), "rel")}`);
});

Deno.test("fileStore sources readInto a caller's buffer (shared memory too) and check ranges", async () => {
  await withFolder(async (dir) => {
    const bytes = randomBytes(2 * (1 << 20) + 99);
    await Deno.writeFile(join(dir, "w.bin"), bytes);
    const source = await fileStore(dir).open("w.bin");
    const shared = new Uint8Array(
      new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true }).buffer,
      64,
      bytes.length - 10,
    );
    await source.readInto!(10, shared);
    assert.deepEqual(shared.slice(), bytes.subarray(10));
    await assert.rejects(
      source.readInto!(bytes.length - 5, new Uint8Array(10)),
      (e: unknown) => e instanceof SaeError,
    );
  });
});

Deno.test("fileStore never follows a symlinked folder that loops: one id per dictionary", async () => {
  await withFolder(async (root) => {
    await Deno.mkdir(join(root, "d"));
    await Deno.mkdir(join(root, "a"));
    await Deno.mkdir(join(root, "b"));
    await Deno.writeFile(join(root, "d/cfg.json"), new Uint8Array(3));
    await Deno.writeFile(join(root, "a/fa"), new Uint8Array(1));
    await Deno.writeFile(join(root, "b/fb"), new Uint8Array(2));
    await Deno.symlink("..", join(root, "d/loop")); // back to the root
    await Deno.symlink(".", join(root, "self")); // to itself
    await Deno.symlink("../b", join(root, "a/x")); // a -> b -> a: a loop in two steps
    await Deno.symlink("../a", join(root, "b/y"));
    await Deno.symlink("d", join(root, "latest")); // an alias that does not loop
    const store = fileStore(root);

    // The listing holds each file once, under its real folder.
    assert.deepEqual(await store.list(""), [
      { path: "a/fa", size: 1 },
      { path: "b/fb", size: 2 },
      { path: "d/cfg.json", size: 3 },
    ]);
    // No id made of loops resolves, for listing or reading.
    for (const prefix of ["self", "self/self/d", "d/loop", "d/loop/d", "a/x/y", "a/x/y/x"]) {
      assert.deepEqual(await store.list(prefix), [], prefix);
    }
    for (const path of ["self/d/cfg.json", "d/loop/d/cfg.json", "a/x/y/fa", "latest/loop/a/fa"]) {
      await assert.rejects(store.open(path), isKind("not_found"), path);
    }
    // Aliases that do not loop still work.
    assert.equal((await store.open("a/x/fb")).size, 2);
    assert.equal((await store.open("latest/cfg.json")).size, 3);
    assert.deepEqual(await store.list("latest"), [{ path: "latest/cfg.json", size: 3 }]);
    assert.deepEqual(await store.list("a"), [{ path: "a/fa", size: 1 }, {
      path: "a/x/fb",
      size: 2,
    }]);
  });
});

Deno.test("fileStore lists a folder under its own path even when a link to it comes first", async () => {
  await withFolder(async (root) => {
    await Deno.mkdir(join(root, "z/real"), { recursive: true });
    await Deno.writeFile(join(root, "z/real/w.bin"), new Uint8Array(4));
    await Deno.symlink("z/real", join(root, "alias"));
    assert.deepEqual(await fileStore(root).list(""), [{ path: "z/real/w.bin", size: 4 }]);
  });
});
