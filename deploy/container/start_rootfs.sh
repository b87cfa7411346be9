#!/usr/bin/env bash
# Start the image's entry point from a root file system made by build_rootfs.sh, the way a
# container runtime with `--read-only --network none --user 65532 --tmpfs /tmp` would: its own
# network namespace (loopback only, nothing outside), the root mounted read-only, a tmpfs on
# /tmp, chroot as uid 65532. Then: time from start to the first answered encode on the demo
# store, /healthz, the --healthcheck probe, the uid, idle resident memory, SIGTERM exit code.
# Usage: deploy/container/start_rootfs.sh ROOTFS MODE  (MODE from build_rootfs.sh; root needed).
# Prints `key=value` lines; exits non-zero when a check fails.
set -euo pipefail

ROOTFS=$(cd "${1:?usage: start_rootfs.sh ROOTFS MODE}" && pwd)
MODE=${2:-binary}
PORT=${SAESERVE_PROOF_PORT:-18080}

if [ "$MODE" = standin ]; then
  ENTRY=(/usr/local/bin/deno run --cached-only --no-remote --allow-all --v8-flags=--expose-gc
    /opt/saeserve/cli/container.ts)
  EXTRA_ENV=(DENO_DIR=/opt/saeserve/deno_dir DENO_NO_UPDATE_CHECK=1
    SAESERVE_STORE=file:///opt/saeserve/dictionaries)
else
  ENTRY=(/usr/local/bin/saeserve)
  EXTRA_ENV=()
fi
export ROOTFS PORT
ENTRY_Q=$(printf '%q ' "${ENTRY[@]}")
ENV_Q=$(printf '%q ' PORT="$PORT" HOST=0.0.0.0 TMPDIR=/tmp SAESERVE_LOG=off "${EXTRA_ENV[@]}")

# Everything below runs in new network and mount namespaces.
exec unshare --net --mount --fork bash -euo pipefail -c "
ip link set lo up
mount --make-rprivate /
mount --bind \"\$ROOTFS\" \"\$ROOTFS\"
mount -t proc proc \"\$ROOTFS/proc\"
mount --rbind /dev \"\$ROOTFS/dev\"
mount -t tmpfs -o size=64m,mode=1777 tmpfs \"\$ROOTFS/tmp\"
mount -o remount,bind,ro \"\$ROOTFS\"
if touch \"\$ROOTFS/probe-write\" 2>/dev/null; then echo 'root is writable' >&2; exit 1; fi
echo network_interfaces=\$(ip -o link | awk -F': ' '{print \$2}' | tr '\n' ' ')
row=\$(python3 -c 'print(\"[\" + \",\".join(str((i % 7) / 7 - 0.4) for i in range(64)) + \"]\")')
body=\"{\\\"activations\\\":[\$row],\\\"top\\\":4}\"
start=\$(date +%s%N)
env -i $ENV_Q /usr/sbin/chroot --userspec=65532:65532 \"\$ROOTFS\" $ENTRY_Q >\"\$ROOTFS/../server.log\" 2>&1 &
pid=\$!
answer=
for _ in \$(seq 1 600); do
  answer=\$(curl -sf -X POST -H 'content-type: application/json' --data \"\$body\" \
    http://127.0.0.1:\$PORT/v1/dictionaries/demo-topk/encode 2>/dev/null) && break
  kill -0 \$pid 2>/dev/null || { echo 'the server exited:' >&2; cat \"\$ROOTFS/../server.log\" >&2; exit 1; }
  sleep 0.01
done
end=\$(date +%s%N)
[ -n \"\$answer\" ] || { echo 'no answer in 6 s' >&2; cat \"\$ROOTFS/../server.log\" >&2; exit 1; }
echo first_encode_ms=\$(( (end - start) / 1000000 ))
echo encode_answer=\$(echo \"\$answer\" | head -c 120)
echo healthz=\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:\$PORT/healthz)
echo readyz=\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:\$PORT/readyz)
echo uid=\$(awk '/^Uid:/ {print \$2}' /proc/\$pid/status)
if [ \"$MODE\" != standin ]; then
  env -i PORT=\$PORT /usr/sbin/chroot --userspec=65532:65532 \"\$ROOTFS\" /usr/local/bin/saeserve --healthcheck \
    && echo healthcheck=0 || echo healthcheck=\$?
fi
sleep 2
echo idle_rss_kib=\$(awk '/^VmRSS:/ {print \$2}' /proc/\$pid/status)
echo tmp_written=\$(ls \"\$ROOTFS/tmp\" | tr '\n' ' ')
kill -TERM \$pid
code=0; wait \$pid || code=\$?
echo sigterm_exit=\$code
"
