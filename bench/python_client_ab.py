"""Two versions of the Python client side by side in one process: 1-row encodes through each,
alternating 1 s blocks (order swapped every round), the block medians and how often the second
was faster. Both must return the same codes.

Run against a service holding dictionary ID (the 2304 x 16384 one bench/encode_vs_torch.ts writes,
say), with an older client unpacked from git:
  git archive f7ecc1c clients/python/saeserve | tar -x -C /tmp/old
  python3 bench/python_client_ab.py --url URL --id big --old /tmp/old/clients/python
"""
import argparse
import importlib
import os
import statistics
import sys
import time

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--id", default="big")
parser.add_argument("--old", required=True, help="folder holding the other client's saeserve package")
parser.add_argument("--rounds", type=int, default=12)
parser.add_argument("--d-in", type=int, default=2304)
parser.add_argument("--top", type=int, default=64)
args = parser.parse_args()
NEW = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python")


def load(path):
    """The saeserve package under `path`, imported afresh."""
    for name in [k for k in sys.modules if k == "saeserve" or k.startswith("saeserve.")]:
        del sys.modules[name]
    sys.path.insert(0, path)
    try:
        return importlib.import_module("saeserve")
    finally:
        sys.path.pop(0)


old, new = load(args.old), load(NEW)
assert old.__file__ != new.__file__, "the two clients are the same files"
x = np.random.default_rng(0).normal(size=(1, args.d_in)).astype(np.float32)
clients = {"old": old.Client(args.url), "new": new.Client(args.url)}
a, b = (c.encode(args.id, x, top=args.top) for c in clients.values())
assert (a.indices == b.indices).all() and (a.values == b.values).all(), "the clients disagree"


def block(client):
    for _ in range(3):
        client.encode(args.id, x, top=args.top)
    times = []
    end = time.perf_counter() + 1
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        client.encode(args.id, x, top=args.top)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


end = time.perf_counter() + 8  # the service's own warm-up
while time.perf_counter() < end:
    for c in clients.values():
        c.encode(args.id, x, top=args.top)
ms = {"old": [], "new": []}
for r in range(args.rounds):
    for name in (("old", "new") if r % 2 == 0 else ("new", "old")):
        ms[name].append(block(clients[name]))
for name, values in ms.items():
    print(f"{name} client: median {statistics.median(values):.3f} ms; blocks", " ".join(f"{v:.2f}" for v in values))
wins = sum(n < o for n, o in zip(ms["new"], ms["old"]))
print(f"new faster in {wins} / {args.rounds} blocks; ratio of medians "
      f"{statistics.median(ms['new']) / statistics.median(ms['old']):.3f}")
