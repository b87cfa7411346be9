#!/usr/bin/env bash
# Build the runtime stage's root file system of the Dockerfile without any registry:
#   1. the binary: `deno task compile` (dist/saeserve);
#   2. a distroless-like glibc base made locally from Debian's libc6 and libgcc-s1 packages,
#      with the same uid 65532 "nonroot" user, /tmp and CA certificates;
#   3. with podman: `podman build --isolation=chroot --target runtime` of the real Dockerfile,
#      the base and the binary passed as RUNTIME_BASE and BINARY_STAGE, then exported;
#      without podman: the same files assembled directly (what the runtime stage's COPY does).
# Usage: deploy/container/build_rootfs.sh OUT_DIR  (OUT_DIR/rootfs is made; root needed).
# Prints `key=value` lines: mode, built, rootfs, rootfs_bytes, binary_bytes, image_bytes.
#
# When `deno compile` cannot get its runtime (denort comes from dl.deno.land; set DENORT_BIN to
# a local copy), SAESERVE_STANDIN=1 builds a stand-in instead of failing: the Deno CLI, the
# service's sources (no tests/, no bench/) and a read-only module cache under /opt/saeserve,
# started as `deno run --cached-only`, added to the image's root file system, whose binary is then
# a placeholder of at least its size (see step 3). It proves the Dockerfile's runtime stage, the
# base, the user, the read-only root and the offline start, not the compiled binary's start-up;
# mode= says which one was built, built= whether podman or direct assembly made it.
set -euo pipefail

OUT=${1:?usage: build_rootfs.sh OUT_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOTFS=$OUT/rootfs
BASE=$OUT/base
log() { echo "build_rootfs: $*" >&2; }

# ---- 1. the binary ------------------------------------------------------------------------
mode=binary
if ! (cd "$REPO" && deno task compile >"$OUT/compile.log" 2>&1); then
  if [ "${SAESERVE_STANDIN:-0}" != 1 ]; then
    log "deno task compile failed (see $OUT/compile.log); SAESERVE_STANDIN=1 builds a stand-in"
    exit 1
  fi
  log "deno compile unavailable ($(grep -m1 -o 'dl.deno.land[^ ]*\|error:.*' "$OUT/compile.log" || true)): stand-in"
  mode=standin
fi

# ---- 2. the base: glibc and libgcc from Debian, a nonroot user, /tmp ----------------------
rm -rf "$BASE" && mkdir -p "$BASE" "$OUT/debs"
(cd "$OUT/debs" && apt-get download libc6 libgcc-s1 >/dev/null 2>&1)
for deb in "$OUT"/debs/*.deb; do dpkg-deb -x "$deb" "$BASE"; done
rm -rf "$BASE"/usr/share/doc "$BASE"/usr/share/locale "$BASE"/usr/share/lintian \
  "$BASE"/usr/share/man "$BASE"/usr/share/i18n "$BASE"/usr/lib/x86_64-linux-gnu/gconv \
  "$BASE"/usr/bin "$BASE"/usr/sbin "$BASE"/sbin "$BASE"/bin 2>/dev/null || true
mkdir -p "$BASE"/etc/ssl/certs "$BASE"/tmp "$BASE"/home/nonroot "$BASE"/proc "$BASE"/dev
chmod 1777 "$BASE"/tmp
chown 65532:65532 "$BASE"/home/nonroot
cp /etc/ssl/certs/ca-certificates.crt "$BASE"/etc/ssl/certs/ 2>/dev/null || true
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
  >"$BASE"/etc/passwd
printf 'root:x:0:\nnonroot:x:65532:\n' >"$BASE"/etc/group
printf 'hosts: files dns\n' >"$BASE"/etc/nsswitch.conf

# ---- 3. the runtime stage ------------------------------------------------------------------
binary=$REPO/dist/saeserve
if [ "$mode" = standin ]; then
  # The stand-in image still gets a file of the binary's size at the binary's place: the Deno CLI
  # with the same embedded files (`deno compile` with DENORT_BIN set to the CLI, which is larger
  # than denort), so that the image size measured is an upper bound. It cannot serve.
  rm -f "$REPO/dist/saeserve"
  (cd "$REPO" && DENORT_BIN=$(command -v deno) deno task compile >>"$OUT/compile.log" 2>&1)
  mv "$REPO/dist/saeserve" "$OUT/placeholder" && rmdir "$REPO/dist" 2>/dev/null || true
  binary=$OUT/placeholder
fi
rm -rf "$ROOTFS"
image_bytes=
built=assembled
if command -v podman >/dev/null; then
  tar -C "$BASE" -c . | podman import --quiet - localhost/saeserve-base:local >/dev/null
  stage=$OUT/stage && rm -rf "$stage" && mkdir -p "$stage/src/dist"
  cp "$binary" "$stage/src/dist/saeserve"
  tar -C "$stage" -c . | podman import --quiet - localhost/saeserve-binary:local >/dev/null
  rm -rf "$stage"
  # The build stage is skipped: the runtime stage takes the binary from BINARY_STAGE.
  podman build --isolation=chroot --format docker --target runtime \
    --build-arg RUNTIME_BASE=localhost/saeserve-base:local \
    --build-arg BINARY_STAGE=localhost/saeserve-binary:local \
    -t localhost/saeserve:local -f "$REPO/Dockerfile" "$REPO" >"$OUT/podman_build.log" 2>&1 ||
    { log "podman build failed:"; cat "$OUT/podman_build.log" >&2; exit 1; }
  image_bytes=$(podman image inspect --format '{{.Size}}' localhost/saeserve:local)
  podman image inspect localhost/saeserve:local >"$OUT/image.json"
  ctr=$(podman create --no-healthcheck localhost/saeserve:local)
  mkdir -p "$ROOTFS"
  podman export "$ctr" | tar -C "$ROOTFS" -x
  podman rm "$ctr" >/dev/null
  built=podman
else
  cp -a "$BASE" "$ROOTFS"
  install -D -m 0555 "$binary" "$ROOTFS/usr/local/bin/saeserve"
fi
binary_bytes=$(stat -c %s "$binary")

if [ "$mode" = standin ]; then
  app=$ROOTFS/opt/saeserve
  mkdir -p "$app"
  install -m 0555 "$(command -v deno)" "$ROOTFS/usr/local/bin/deno"
  (cd "$REPO" && git ls-files -co --exclude-standard -- deno.json deno.lock main.ts backends cli \
    domain routes service dictionaries | grep -v -e '_test\.ts$' -e '^backends/wasm/assembly/' |
    tar -c -T - backends/wasm/build/kernels.wasm) | tar -C "$app" -x
  # npm packages fetched here, then the module cache filled at the paths the chroot sees.
  (cd "$app" && DENO_DIR="$app/deno_dir" deno cache --quiet cli/container.ts)
  env -i DENO_DIR=/opt/saeserve/deno_dir DENO_NO_UPDATE_CHECK=1 /usr/sbin/chroot "$ROOTFS" \
    /usr/local/bin/deno cache --quiet /opt/saeserve/cli/container.ts \
    /opt/saeserve/backends/wasm/worker.ts /opt/saeserve/service/jobs/worker.ts
fi

echo "mode=$mode"
echo "built=$built"
echo "rootfs=$ROOTFS"
echo "rootfs_bytes=$(du -sb "$ROOTFS" | cut -f1)"
echo "binary_bytes=$binary_bytes"
[ -n "$image_bytes" ] && echo "image_bytes=$image_bytes"
exit 0
