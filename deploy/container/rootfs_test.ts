/**
 * The container proof without a registry: build_rootfs.sh builds the Dockerfile's runtime
 * stage (podman build --isolation=chroot on a base made from Debian packages, or the same files
 * assembled), start_rootfs.sh starts it offline, read-only and as uid 65532, and this test checks
 * what it prints. Slow (about a minute) and needs root, unshare, chroot, apt-get and curl: it
 * skips with the reason when one is missing, and unless SAESERVE_CONTAINER_TESTS=1 (opt-in).
 * @module
 */

import assert from "node:assert/strict";

const HERE = new URL(".", import.meta.url).pathname;

/** Why the proof cannot run here, or undefined when it can. */
async function skipReason(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "needs Linux";
  if (Deno.env.get("SAESERVE_CONTAINER_TESTS") !== "1") {
    return "opt-in (builds a root file system: 25 s to 1.5 min): set SAESERVE_CONTAINER_TESTS=1";
  }
  if (Deno.uid() !== 0) return "needs root (unshare, chroot, mount)";
  for (const tool of ["unshare", "chroot", "apt-get", "dpkg-deb", "curl", "ip", "python3"]) {
    const found = await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`] }).output();
    if (!found.success) return `${tool} is missing`;
  }
  return undefined;
}

/** Run a script, answering its `key=value` lines; throws with its output when it fails. */
async function run(script: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command("bash", { args: [HERE + script, ...args], env }).output();
  const text = new TextDecoder().decode(out.stdout);
  const errors = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `${script} failed:\n${text}\n${errors}`);
  if (errors.trim()) console.log(errors.trim());
  return Object.fromEntries(
    text.split("\n").filter((l) => l.includes("=")).map((l) => [
      l.slice(0, l.indexOf("=")),
      l.slice(l.indexOf("=") + 1),
    ]),
  );
}

const reason = await skipReason();
if (reason) console.log(`container proof skipped: ${reason}`);

Deno.test({
  name: "the runtime stage's root file system serves offline, read-only, as non-root",
  ignore: reason !== undefined,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "saeserve_rootfs_" });
    try {
      // Where `deno compile` cannot get denort (no network), the stand-in is built instead.
      const built = await run("build_rootfs.sh", [out], { SAESERVE_STANDIN: "1" });
      console.log(JSON.stringify(built));
      assert.ok(Number(built.binary_bytes) > 0);
      if (built.image_bytes) assert.ok(Number(built.image_bytes) < 150e6, "image under 150 MB");
      const started = await run("start_rootfs.sh", [built.rootfs, built.mode]);
      console.log(JSON.stringify(started));
      assert.equal(started.network_interfaces.trim(), "lo");
      assert.match(started.encode_answer, /^\{"indices":\[\[/);
      assert.equal(started.healthz, "200");
      assert.equal(started.readyz, "200");
      assert.equal(started.uid, "65532");
      assert.equal(started.sigterm_exit, "0");
      if (built.mode !== "standin") {
        assert.equal(started.healthcheck, "0");
        assert.ok(Number(started.first_encode_ms) < 1500, `${started.first_encode_ms} ms`);
      }
    } finally {
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  },
});
