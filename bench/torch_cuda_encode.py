"""PyTorch CUDA f32 encode (TF32 off), the GPU peer of saeserve's WebGPU backend.

x @ W_enc + b_enc, topk(64), relu, for 2304 x 16384 and 2304 x 131072 TopK dictionaries at
1, 64, 1024 and 8192 rows; CUDA events time each call on the device; host_to_host_ms
also counts copying the rows in and the codes out (what an in-process service pays). One JSON line per measurement.
Run by bench/gpu.sh.
"""
import json
import os
import statistics
import time

import torch

assert torch.cuda.is_available(), "no CUDA device"
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
D_IN = int(os.environ.get("GPU_BENCH_D_IN", 2304))
SIZES = [int(s) for s in os.environ.get("GPU_BENCH_SIZES", "16384,131072").split(",")]
ROWS = [int(r) for r in os.environ.get("GPU_BENCH_ROWS", "1,64,1024,8192").split(",")]
dev = torch.device("cuda")
print(json.dumps({"device": torch.cuda.get_device_name(0), "torch": torch.__version__}), flush=True)
with torch.inference_mode():
    for d_sae in SIZES:
        w_enc = torch.randn(D_IN, d_sae, device=dev) * 0.02
        b_enc = torch.randn(d_sae, device=dev) * 0.01
        for rows in ROWS:
            x = torch.randn(rows, D_IN, device=dev)

            def encode():
                h = x @ w_enc + b_enc
                v, i = torch.topk(h, 64, dim=-1)
                return torch.relu(v), i

            for _ in range(3):
                encode()
            times = []
            for _ in range(20):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                encode()
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end))
            ms = statistics.median(times)
            # The same work as a service sees it: rows from host memory, codes back to host memory.
            x_host = x.cpu()
            walls = []
            for _ in range(20):
                t = time.perf_counter()
                h = x_host.to(dev) @ w_enc + b_enc
                v, i = torch.topk(h, 64, dim=-1)
                torch.relu(v).cpu(), i.cpu()
                walls.append((time.perf_counter() - t) * 1e3)
            host_ms = statistics.median(walls)
            print(json.dumps({"d_sae": d_sae, "rows": rows, "median_ms": ms, "rows_per_s": rows / ms * 1e3,
                              "gflops": 2 * rows * D_IN * d_sae / ms / 1e6,
                              "host_to_host_ms": host_ms}), flush=True)
