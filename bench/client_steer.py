"""Added time per generated token of steering through saeserve with the PyTorch hook
(``saeserve.torch.steering``, positions="last": hook + HTTP + encode + splice), against the same
clamp computed in-process in torch (encode with W_enc, top-k, clamp, decode the delta), for 1 and
8 concurrent sequences, side by side in one run.

Each sequence is its own tiny torch language model (embedding, one residual MLP block of width
d = the dictionary's d_in, final norm, unembedding) decoding greedily one token per step; the
hooked layer is the block. Per step the wall time of the model's forward is recorded; the added
time of a steered step is its time less the median unsteered step at the same concurrency.

Run by bench/client_steer.ts (which writes the synthetic 2304 x 16384 dictionary and starts the
service); standalone: python3 bench/client_steer.py --url URL --folder STORE/big --dictionary big
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import struct
import sys
import threading
import time
from typing import Callable, Dict, Iterator, List, Sequence

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
import saeserve  # noqa: E402
import saeserve.torch as st  # noqa: E402

VOCAB = 512


def load_safetensors(path: str) -> Dict[str, np.ndarray]:
    """The F32 tensors of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", (name, t["dtype"])
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a : 8 + n + b], dtype="<f4").reshape(t["shape"])
    return out


class TorchClamp:
    """SAELens TopK clamp in torch f32: f = ReLU(TopK_k((x - b_dec?) W_enc + b_enc)), then
    x + (value - f_feature) W_dec[feature] (the reconstruction error is kept)."""

    def __init__(self, folder: str, feature: int, value: float) -> None:
        with open(os.path.join(folder, "cfg.json")) as f:
            cfg = json.load(f)
        assert cfg["architecture"] == "topk", cfg
        w = load_safetensors(os.path.join(folder, "sae_weights.safetensors"))
        self.k, self.feature, self.value = int(cfg["k"]), feature, value
        self.sub_b_dec = bool(cfg.get("apply_b_dec_to_input", False))
        self.w_enc = torch.from_numpy(w["W_enc"].copy())
        self.b_enc = torch.from_numpy(w["b_enc"].copy())
        self.b_dec = torch.from_numpy(w["b_dec"].copy())
        self.direction = torch.from_numpy(w["W_dec"][feature].copy())
        self.d_in = self.w_enc.shape[0]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        pre = ((x - self.b_dec) if self.sub_b_dec else x) @ self.w_enc + self.b_enc
        values, indices = pre.topk(self.k, dim=-1)
        f = torch.where(indices == self.feature, values.relu(), torch.zeros_like(values)).sum(-1, keepdim=True)
        return x + (self.value - f) * self.direction


class Block(nn.Module):
    """Pre-norm residual MLP; returns a tuple as Hugging Face decoder layers do."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.ln, self.mlp = nn.LayerNorm(d), nn.Sequential(nn.Linear(d, d), nn.GELU())

    def forward(self, x: torch.Tensor):
        return (x + self.mlp(self.ln(x)),)


class TinyLM(nn.Module):
    """Embedding, one block of width d, final norm, unembedding; one token per step."""

    def __init__(self, d: int, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.embed, self.block = nn.Embedding(VOCAB, d), Block(d)
        self.ln_f, self.unembed = nn.LayerNorm(d), nn.Linear(d, VOCAB, bias=False)

    @torch.no_grad()
    def step(self, token: int) -> int:
        x = self.embed(torch.tensor([[token]]))
        return int(self.unembed(self.ln_f(self.block(x)[0]))[0, -1].argmax())


def in_process_hook(clamp: TorchClamp) -> Callable:
    """A forward hook splicing the in-process clamp into the newest position."""

    def hook(_module: nn.Module, _inputs: object, output: tuple) -> tuple:
        hidden = output[0].clone()
        hidden[:, -1, :] = clamp(hidden[:, -1, :])
        return (hidden,) + tuple(output[1:])

    return hook


def run(models: Sequence[TinyLM], mode: str, steps: int, warmup: int, attach: Callable) -> dict:
    """Decode `steps` tokens on every model at once (one thread each); per-step ms and tokens."""
    times: List[List[float]] = [[] for _ in models]
    tokens: List[List[int]] = [[] for _ in models]
    barrier = threading.Barrier(len(models))
    errors: List[BaseException] = []

    def decode(i: int) -> None:
        try:
            with attach(models[i], mode):
                token = i
                for s in range(warmup + steps):
                    if s == warmup:
                        barrier.wait()
                    t0 = time.perf_counter()
                    token = models[i].step(token)
                    if s >= warmup:
                        times[i].append((time.perf_counter() - t0) * 1e3)
                        tokens[i].append(token)
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=decode, args=(i,)) for i in range(len(models))]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return {
        "ms": np.array([t for ts in times for t in ts]),
        "tokens": tokens,
        "wall_s": time.perf_counter() - began,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--folder", required=True, help="the dictionary's SAELens folder (for torch)")
    p.add_argument("--dictionary", default="big")
    p.add_argument("--tokens", type=int, default=100, help="recorded tokens per sequence")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--concurrency", default="1,8")
    p.add_argument("--feature", type=int, default=0)
    p.add_argument("--value", type=float, default=10.0)
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args()

    clamp = TorchClamp(args.folder, args.feature, args.value)
    ivs = [saeserve.clamp(args.feature, args.value)]
    client = saeserve.Client(args.url, timeout=120)
    rows = np.random.default_rng(0).normal(size=(16, clamp.d_in)).astype(np.float32)
    served = client.steer(args.dictionary, rows, ivs)  # loads the dictionary
    mismatch = float(np.abs(served - clamp(torch.from_numpy(rows)).numpy()).max())

    @contextlib.contextmanager
    def attach(model: TinyLM, mode: str) -> Iterator[None]:
        if mode == "service":
            with st.steering(model.block, client, args.dictionary, ivs, positions="last"):
                yield
            return
        handle = model.block.register_forward_hook(in_process_hook(clamp)) if mode == "torch" else None
        try:
            yield
        finally:
            if handle is not None:
                handle.remove()

    results = []
    for c in [int(n) for n in args.concurrency.split(",")]:
        models = [TinyLM(clamp.d_in) for _ in range(c)]
        runs = {mode: run(models, mode, args.tokens, args.warmup, attach) for mode in ("plain", "torch", "service")}
        base = float(np.median(runs["plain"]["ms"]))
        for mode, r in runs.items():
            added = r["ms"] - base
            results.append({
                "sequences": c,
                "way": {"plain": "unsteered", "torch": "in-process torch", "service": "saeserve hook"}[mode],
                "step_p50_ms": float(np.percentile(r["ms"], 50)),
                "step_p99_ms": float(np.percentile(r["ms"], 99)),
                "added_p50_ms": float(np.percentile(added, 50)) if mode != "plain" else 0.0,
                "added_p99_ms": float(np.percentile(added, 99)) if mode != "plain" else 0.0,
                "tokens_per_s": r["ms"].size / r["wall_s"],
                "samples": int(r["ms"].size),
            })
        same = np.mean([a == b for s, t in zip(runs["torch"]["tokens"], runs["service"]["tokens"]) for a, b in zip(s, t)])
        changed = np.mean([a != b for s, t in zip(runs["plain"]["tokens"], runs["service"]["tokens"]) for a, b in zip(s, t)])
        results[-1]["tokens_same_as_torch"] = float(same)
        results[-1]["tokens_changed_by_steer"] = float(changed)

    print(f"dictionary {args.dictionary}: d_in {clamp.d_in}, k {clamp.k}; clamp feature {args.feature} to "
          f"{args.value}; torch {torch.__version__}, {torch.get_num_threads()} threads; {os.cpu_count()} CPUs")
    print(f"service steer vs in-process torch clamp on 16 rows: max |diff| {mismatch:.2e}")
    print("| sequences | way | step p50 ms | step p99 ms | added p50 ms | added p99 ms | tokens/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['sequences']} | {r['way']} | {r['step_p50_ms']:.2f} | {r['step_p99_ms']:.2f} | "
              f"{r['added_p50_ms']:.2f} | {r['added_p99_ms']:.2f} | {r['tokens_per_s']:.1f} |")
    for r in results:
        if "tokens_same_as_torch" in r:
            print(f"{r['sequences']} sequences: generated tokens equal through the service and in-process "
                  f"{100 * r['tokens_same_as_torch']:.0f}%, changed by the steer {100 * r['tokens_changed_by_steer']:.0f}%")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"max_abs_diff": mismatch, "results": results}, f, indent=2)
    client.close()


if __name__ == "__main__":
    main()
