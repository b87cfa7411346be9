#!/usr/bin/env bash
# saeserve WebGPU encode vs PyTorch CUDA f32 on a machine with a real NVIDIA GPU
# (H100/H200 class). Run from the repo root: bench/gpu.sh
#   DENO=path/to/deno   a deno 2.9.6 binary (default: deno on PATH, else .deno/deno[.xz])
#   .gl/*.deb           Vulkan/EGL loaders to unpack when the machine has none (see README)
#   .deno/npm.tar.xz    Deno's npm cache (tar of $DENO_DIR/npm): the service, the WASM kernels'
#                       build and the kernel tests run offline from it
# Results: JSON lines on stdout: transfer costs, saeserve encode (in-process, then threaded), a
# profile of one encode, torch (skipped without CUDA torch), one row over HTTP through the service
# (webgpu and wasm), then the WebGPU kernel tests (backends/gpu/, each against the reference).
# Run 8 (2026-11-27) took 238 s with extra profiles; leave timeout room for one rerun.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! ldconfig -p 2>/dev/null | grep -q libvulkan && [ -d .gl ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="${VK_DRIVER_FILES:-$icd}"
DENO="${DENO:-}"
if [ -z "$DENO" ]; then
  if command -v deno >/dev/null; then DENO=deno
  elif [ -f .deno/deno ]; then DENO=.deno/deno
  elif [ -f .deno/deno.xz ]; then xz -dkc .deno/deno.xz >/tmp/deno && chmod +x /tmp/deno && DENO=/tmp/deno
  else echo "no deno binary: set DENO" >&2; exit 2
  fi
fi
if [ -f .deno/npm.tar.xz ] && [ -z "${DENO_DIR:-}" ]; then
  export DENO_DIR=/tmp/saeserve-deno-dir
  mkdir -p "$DENO_DIR" && tar -xJf .deno/npm.tar.xz -C "$DENO_DIR"
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi not found"
echo "# webgpu transfers and waits (Deno)"
"$DENO" run --allow-all bench/gpu_transfer.ts
echo "# saeserve webgpu (in-process)"
"$DENO" run --allow-all bench/gpu_encode.ts
echo "# saeserve webgpu, the device on its own worker thread (as the service runs it)"
GPU_BENCH_THREAD=1 GPU_BENCH_SIZES=16384 GPU_BENCH_ROWS=1,64,1024,8192 "$DENO" run --allow-all bench/gpu_encode.ts
echo "# where one encode's time goes (host time of each WebGPU call)"
"$DENO" run --allow-all bench/gpu_profile.ts
echo "# torch cuda f32 (TF32 off)"
python3 bench/torch_cuda_encode.py || echo '{"torch": "skipped: no CUDA torch here"}'
echo "# one row over HTTP through the service: webgpu (device on its worker) and wasm"
"$DENO" task kernels >/dev/null && "$DENO" run --allow-all bench/gpu_http.ts
echo "# webgpu kernels against the reference backend on this adapter"
"$DENO" test --cached-only --allow-all --no-check backends/gpu/ 2>&1 | grep -v ' ok ' || true
