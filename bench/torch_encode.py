"""PyTorch f32 CPU encode, the peer saeserve's WASM backend is measured against.

x @ W_enc + b_enc, then topk(k) and relu, in-process, all cores (torch's default threads).
Prints one JSON object per batch size: {"rows", "median_ms", "rows_per_s", "gflops"}.
Run by bench/encode_vs_torch.ts; standalone: /usr/bin/python3 bench/torch_encode.py
With --serve it times blocks on request instead, so that a caller can alternate them with its
own: each stdin line "ROWS SECONDS" runs 3 untimed calls, then times calls for SECONDS and
prints one JSON object as above; "ROWS SECONDS URL ID" times the same encode sent to saeserve at
URL (dictionary ID) by its Python client (clients/python) instead, in this process: what a torch
user's code pays for each. It exits at the end of stdin.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--d-in", type=int, default=2304)
parser.add_argument("--d-sae", type=int, default=16384)
parser.add_argument("--k", type=int, default=64)
parser.add_argument("--rows", default="1,16,64,256")
parser.add_argument("--seconds", type=float, default=3.0)
parser.add_argument("--warmup", type=float, default=0.0, help="seconds of calls before timing")
parser.add_argument("--serve", action="store_true", help="time blocks asked for on stdin")
args = parser.parse_args()

torch.manual_seed(0)
w_enc = torch.randn(args.d_in, args.d_sae) * 0.02
b_enc = torch.randn(args.d_sae) * 0.01


def encode(x):
    h = x @ w_enc + b_enc
    values, indices = torch.topk(h, args.k, dim=-1)
    return torch.relu(values), indices


def timed(x, seconds, once=None):
    """Median seconds of one encode of x (by `once`, default torch's), over calls made for
    `seconds` (at least 5)."""
    once = once or encode
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 5:
        t0 = time.perf_counter()
        once(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def client_encode(url, id):
    """The same encode through saeserve's Python client (imported on first use)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
    import saeserve

    client = saeserve.Client(url)
    return lambda x: client.encode(id, x.numpy(), top=args.k)


def report(rows, median):
    print(json.dumps({
        "rows": rows,
        "median_ms": median * 1e3,
        "rows_per_s": rows / median,
        "gflops": 2 * rows * args.d_in * args.d_sae / median / 1e9,
        "threads": torch.get_num_threads(),
    }), flush=True)


with torch.inference_mode():
    if args.serve:
        inputs = {}
        clients = {}
        for line in sys.stdin:
            words = line.split()
            rows, seconds = int(words[0]), float(words[1])
            x = inputs.setdefault(rows, torch.randn(rows, args.d_in))
            once = clients.setdefault(tuple(words[2:]), client_encode(*words[2:])) if len(words) == 4 else encode
            for _ in range(3):
                once(x)
            report(rows, timed(x, seconds, once))
        sys.exit(0)
    for rows in [int(r) for r in args.rows.split(",")]:
        x = torch.randn(rows, args.d_in)
        warm = time.perf_counter() + args.warmup
        for i in range(1_000_000_000):
            if i >= 3 and time.perf_counter() >= warm:
                break
            encode(x)
        report(rows, timed(x, args.seconds))
