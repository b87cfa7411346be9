# saeserve as one self-contained executable on a distroless glibc base: no shell, no package
# manager, no Deno install, nothing from tests/ or bench/. See README "Containers and the single
# binary".
#   docker build -t saeserve .
#   docker run --read-only --tmpfs /tmp -p 8080:8080 saeserve
# Without a registry, deploy/container/build_rootfs.sh builds the runtime stage from bases made
# locally (RUNTIME_BASE, BINARY_STAGE) and starts it with chroot.

# Any glibc image with npm for the build; any glibc image with a uid 65532 for the runtime.
ARG BUILD_BASE=node:22-bookworm-slim
ARG RUNTIME_BASE=gcr.io/distroless/cc-debian12:nonroot
# The stage the runtime takes /src/dist/saeserve from (an image holding that file works too).
ARG BINARY_STAGE=build

# ---- build: Deno 2.9.6 from npm, the WASM kernels built once, the binary compiled ----------
FROM ${BUILD_BASE} AS build
RUN npm install --global --no-fund --no-audit deno@2.9.6 && deno --version
WORKDIR /src
# Only what the binary is built from (.dockerignore keeps out tests/, bench/, clients/, .git).
COPY . .
# `deno task compile` runs `deno task kernels` first, then `deno compile`, which fetches the
# matching denort (Deno's runtime without the tooling) from dl.deno.land.
RUN deno task compile

FROM ${BINARY_STAGE} AS binary

# ---- runtime: the binary and nothing else ------------------------------------------------
FROM ${RUNTIME_BASE} AS runtime
ARG RUNTIME_BASE
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="saeserve" \
      org.opencontainers.image.description="HTTP service serving sparse-autoencoder dictionaries (demo dictionaries embedded)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${RUNTIME_BASE}" \
      org.opencontainers.image.documentation="README.md#containers-and-the-single-binary"
COPY --from=binary --chmod=0555 /src/dist/saeserve /usr/local/bin/saeserve
# Numeric, so that Kubernetes' runAsNonRoot can check it (65532 is distroless' "nonroot").
USER 65532:65532
# TMPDIR is the only place written: Deno's V8 code cache (deno-compile-saeserve.cache), which
# makes the second start faster. With a read-only root mount a tmpfs or emptyDir there, or point
# TMPDIR elsewhere; when it cannot be written the binary runs without the cache.
ENV PORT=8080 HOST=0.0.0.0 TMPDIR=/tmp
EXPOSE 8080
# SIGTERM is what main.ts drains on: readiness off, in-flight requests finish (up to
# SAESERVE_SHUTDOWN_GRACE_MS), then exit 0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/saeserve", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/saeserve"]
