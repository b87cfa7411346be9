"""An independent numpy implementation of the demo-topk dictionary's clamp (SAELens TopK), read
straight from its safetensors file: the in-process edit the service must match."""
from __future__ import annotations

import json
import os
import struct

import numpy as np

DICTIONARIES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "dictionaries")


def load_safetensors(path: str) -> dict:
    """F32 tensors of a safetensors file as numpy arrays."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", t
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a : 8 + n + b], dtype="<f4").reshape(t["shape"])
    return out


class TopKSae:
    """demo-topk: f = ReLU(TopK_k((x - b_dec) W_enc + b_enc)); clamp adds (v - f_i) W_dec[i]."""

    def __init__(self, name: str = "demo-topk") -> None:
        folder = os.path.join(DICTIONARIES, name)
        with open(os.path.join(folder, "cfg.json")) as f:
            cfg = json.load(f)
        assert cfg["architecture"] == "topk" and cfg["apply_b_dec_to_input"], cfg
        assert cfg["normalize_activations"] == "none" and not cfg["rescale_acts_by_decoder_norm"]
        w = load_safetensors(os.path.join(folder, "sae_weights.safetensors"))
        self.k = int(cfg["k"])
        self.w_enc, self.w_dec = w["W_enc"].astype(np.float64), w["W_dec"].astype(np.float64)
        self.b_enc, self.b_dec = w["b_enc"].astype(np.float64), w["b_dec"].astype(np.float64)

    def encode(self, x: np.ndarray) -> np.ndarray:
        pre = (x - self.b_dec) @ self.w_enc + self.b_enc
        top = np.argsort(-pre, axis=-1, kind="stable")[..., : self.k]
        f = np.zeros_like(pre)
        np.put_along_axis(f, top, np.maximum(np.take_along_axis(pre, top, -1), 0), -1)
        return f

    def clamp(self, x: np.ndarray, feature: int, value: float) -> np.ndarray:
        f = self.encode(x)[..., feature : feature + 1]
        return x + (value - f) * self.w_dec[feature]
