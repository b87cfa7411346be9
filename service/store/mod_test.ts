import assert from "node:assert/strict";
import { join } from "node:path";
import { readRange } from "../../domain/io/byte_source.ts";
import { SaeError } from "../../domain/errors.ts";
import { openStore } from "./mod.ts";

function invalid(url: string, env: Record<string, string> = {}): SaeError {
  try {
    openStore(url, env);
  } catch (error) {
    assert.ok(error instanceof SaeError, String(error));
    assert.equal(error.kind, "invalid", url);
    return error;
  }
  assert.fail(`${url} was accepted`);
}

Deno.test("openStore: file:// paths, relative ones against the working directory", () => {
  assert.equal(
    openStore("file://./dictionaries", {}).describe,
    `file://${join(Deno.cwd(), "dictionaries")}`,
  );
  assert.equal(openStore("file:///srv/dicts", {}).describe, "file:///srv/dicts");
  assert.equal(openStore("file://localhost/srv/dicts", {}).describe, "file:///srv/dicts");
  assert.equal(openStore("FILE:///srv/my%20dicts", {}).describe, "file:///srv/my dicts");
  assert.equal(openStore("/srv/dicts", {}).describe, "file:///srv/dicts", "a bare path");
  assert.equal(openStore("dicts", {}).describe, `file://${join(Deno.cwd(), "dicts")}`);
});

Deno.test("openStore: a file:// store reads the folder it names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-open-store-" });
  try {
    await Deno.mkdir(join(dir, "demo"));
    await Deno.writeFile(join(dir, "demo/cfg.json"), new TextEncoder().encode("{}"));
    const store = openStore(`file://${dir}`, {});
    assert.deepEqual(await store.list(""), [{ path: "demo/cfg.json", size: 2 }]);
    assert.deepEqual(
      await readRange(await store.open("demo/cfg.json"), { offset: 0, length: 2 }),
      new TextEncoder().encode("{}"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openStore: s3://, https:// and hf:// dispatch, with credentials kept out of describe", () => {
  const env = {
    AWS_ACCESS_KEY_ID: "AKIDOPENSTORE",
    AWS_SECRET_ACCESS_KEY: "aws-secret-openstore",
    AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9",
    HF_TOKEN: "hf_openstore",
  };
  const s3 = openStore("s3://bucket/some/prefix/", env);
  assert.equal(s3.describe, "s3://bucket/some/prefix");
  assert.equal(typeof s3.put, "function", "s3 stores are writable");
  const https = openStore("https://user:pw-secret@example.com/sae/dicts?token=q-secret", env);
  assert.equal(https.describe, "https://example.com/sae/dicts");
  assert.equal(https.put, undefined, "https stores are read-only");
  assert.equal(openStore("http://example.com", env).describe, "http://example.com");
  const hf = openStore("hf://google/gemma-scope-2b-pt-res@main", env);
  assert.equal(hf.describe, "hf://google/gemma-scope-2b-pt-res");
  assert.equal(hf.put, undefined, "hf stores are read-only");
  for (const store of [s3, https, hf]) {
    for (const secret of Object.values(env).concat(["pw-secret", "q-secret"])) {
      if (secret.startsWith("http")) continue;
      assert.ok(!store.describe.includes(secret), `${store.describe} shows ${secret}`);
    }
  }
});

Deno.test("openStore: unknown schemes and broken addresses are invalid, with a clear message", () => {
  const unknown = invalid("gs://bucket/prefix");
  assert.match(
    unknown.message,
    /unknown store scheme "gs": use file:\/\/, s3:\/\/, https:\/\/ or hf:\/\//,
  );
  invalid("ftp://example.com/x");
  invalid("file://%zz");
  invalid("s3://");
  invalid("hf://just-org");
  const secret = invalid("s3://AKID:secret-in-url@bucket/x");
  assert.ok(!secret.message.includes("secret-in-url"));
});
