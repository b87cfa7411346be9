#!/usr/bin/env python3
"""The embedded demo store: three small synthetic dictionaries, one per checkpoint family, and
one aligned (multi-stream) dictionary.

    python3 scripts/make_demo.py

Writes
  dictionaries/demo-topk/       SAELens v6 TopK      (cfg.json + sae_weights.safetensors,
                                explanations.json: Neuronpedia export format, written after
                                saeserve.json so its sha256 list stays the weights')
  dictionaries/demo-jumprelu/   Gemma Scope JumpReLU (params.npz)
  dictionaries/demo-sparsify/   sparsify TopK        (cfg.json + sae.safetensors)
  dictionaries/demo-aligned/    aligned (SPARC) TopK (saeserve.json kind "aligned" +
                                aligned.safetensors): streams a (d 6), b (d 5), c (d 4),
                                12 shared latents, k 3
each with a saeserve.json (model, hook, description, sha256 of every file). d_in 64,
d_sae 256, float32. The weights are synthetic but behave like a trained dictionary: decoder
rows are unit-norm random directions, the encoder is their transpose plus a little noise, and
biases and thresholds are set so a standard-normal input row activates a handful of latents.
Deterministic: fixed seeds and fixed zip timestamps, so the sha256 values are stable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "dictionaries"
D_IN, D_SAE, K = 64, 256, 8
MODEL = "demo-model"
HOOK = "blocks.6.hook_resid_post"


def write_safetensors(path: Path, tensors: list[tuple[str, np.ndarray]]) -> None:
    """F32 safetensors: u64 LE header length, JSON header (8-aligned), data in the given order."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    chunks, offset = [], 0
    for name, array in tensors:
        raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


class _FixedClock:
    @staticmethod
    def time() -> float:
        return 0.0

    @staticmethod
    def localtime(_t: float | None = None) -> tuple[int, ...]:
        return (2024, 1, 1, 0, 0, 0, 0, 1, 0)


@contextlib.contextmanager
def fixed_zip_time():
    """np.savez stamps zip members with the current time; pin it so the bytes are stable."""
    saved = zipfile.time
    zipfile.time = _FixedClock  # type: ignore[assignment]
    try:
        yield
    finally:
        zipfile.time = saved


def write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")


def dictionary(rng: np.random.Generator):
    """Unit decoder directions, encoder = transpose + noise, small decoder bias."""
    w_dec = rng.normal(size=(D_SAE, D_IN))
    w_dec /= np.linalg.norm(w_dec, axis=1, keepdims=True)
    w_enc = w_dec.T + 0.05 * rng.normal(size=(D_IN, D_SAE))
    b_dec = 0.05 * rng.normal(size=D_IN)
    return w_enc.astype(np.float32), w_dec.astype(np.float32), b_dec.astype(np.float32)


def sidecar(folder: Path, description: str, extra: dict | None = None) -> None:
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
              for p in sorted(folder.iterdir()) if p.name != "saeserve.json"}
    write_json(folder / "saeserve.json", {"model": MODEL, "hook": HOOK, "description": description,
                                          **(extra or {}), "sha256": hashes})


VOCAB = 128


def demo_head(w_dec: np.ndarray) -> None:
    """A tiny model head for demo-topk: token t's unembedding is decoder row t plus noise, so
    feature t's logit lens peaks on token t (features >= VOCAB have diffuse lenses)."""
    rng = np.random.default_rng(4)
    folder = OUT / "demo-head"
    folder.mkdir(parents=True)
    w_u = (4.0 * w_dec[:VOCAB] + 0.3 * rng.normal(size=(VOCAB, D_IN))).astype(np.float32)
    norm = (1.0 + 0.05 * rng.normal(size=D_IN)).astype(np.float32)
    write_safetensors(folder / "head.safetensors", [("W_U", w_u), ("norm.weight", norm)])
    write_json(folder / "head.json", {"norm": "rmsnorm", "eps": 1e-6, "gemma_offset": False})
    write_json(folder / "vocab.json", [f"tok{t:03d}" for t in range(VOCAB)])


def demo_topk() -> None:
    rng = np.random.default_rng(1)
    w_enc, w_dec, b_dec = dictionary(rng)
    b_enc = rng.normal(-0.5, 0.1, size=D_SAE).astype(np.float32)
    folder = OUT / "demo-topk"
    folder.mkdir(parents=True)
    write_json(folder / "cfg.json", {
        "architecture": "topk",
        "d_in": D_IN,
        "d_sae": D_SAE,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "k": K,
        "rescale_acts_by_decoder_norm": False,
        "metadata": {
            "sae_lens_version": "6.5.1",
            "model_name": MODEL,
            "hook_name": HOOK,
            "hook_head_index": None,
            "prepend_bos": True,
            "context_size": 128,
        },
    })
    write_safetensors(folder / "sae_weights.safetensors",
                      [("W_dec", w_dec), ("W_enc", w_enc), ("b_dec", b_dec), ("b_enc", b_enc)])
    demo_head(w_dec)
    sidecar(folder, "Synthetic SAELens TopK dictionary (k=8) for trying saeserve; not trained on any model.",
            {"head": "demo-head", "before_final_norm": True})
    demo_explanations()


CONCEPTS = [
    "pirates, ships and sailing on the open sea",
    "deception, lying and dishonest statements",
    "French cuisine and cooking recipes",
    "numbers written as digits in financial reports",
    "Python source code and function definitions",
    "legal contracts and court rulings",
    "weather forecasts, rain and storms",
    "music, songs and concert reviews",
    "medical symptoms and hospital visits",
    "football matches and goal scoring",
    "astronomy, planets and telescopes",
    "questions asked by a customer to a support agent",
    "dates and calendar months",
    "love letters and romantic poetry",
    "chemistry experiments and laboratory safety",
    "the end of a sentence before a full stop",
    "gardening, plants and flowers",
    "ancient Rome and its emperors",
    "error messages and stack traces",
    "travel itineraries, flights and hotels",
    "polite refusals and apologies",
    "mathematics proofs and theorems",
    "cats, dogs and household pets",
    "elections, voting and political campaigns",
]


def demo_explanations() -> None:
    """Explanations for demo-topk's first 128 features in Neuronpedia's export format (index as a
    string, modelId, layer, explanationModelName, typeName), a second one for the concept
    features, and a stored density for some."""
    entries = []
    for f in range(VOCAB):
        base = {"modelId": MODEL, "layer": "6-demo-topk", "index": str(f)}
        text = CONCEPTS[f] if f < len(CONCEPTS) else f"the token tok{f:03d} and its contexts"
        entries.append({**base, "description": text, "explanationModelName": "demo-explainer",
                        "typeName": "oai_token-act-pair", "density": round(0.001 + f / 5000, 5)})
        if f < len(CONCEPTS):
            entries.append({**base, "description": f"promotes tok{f:03d}",
                            "explanationModelName": "logit-lens", "typeName": "np_max-act-logits"})
    (OUT / "demo-topk" / "explanations.json").write_text(json.dumps(entries, indent=1) + "\n")


def demo_jumprelu() -> None:
    rng = np.random.default_rng(2)
    w_enc, w_dec, b_dec = dictionary(rng)
    # Pre-activations of a standard-normal row are about N(0, 1); thresholds near 2 leave ~2-3%
    # of the 256 latents active.
    arrays = {
        "W_dec": w_dec,
        "W_enc": w_enc,
        "b_dec": b_dec,
        "b_enc": rng.normal(0.0, 0.05, size=D_SAE).astype(np.float32),
        "threshold": rng.uniform(1.8, 2.2, size=D_SAE).astype(np.float32),
    }
    folder = OUT / "demo-jumprelu"
    folder.mkdir(parents=True)
    with fixed_zip_time():
        np.savez(folder / "params.npz", **arrays)
    sidecar(folder, "Synthetic Gemma Scope-style JumpReLU dictionary (params.npz); not trained on any model.")


def demo_sparsify() -> None:
    rng = np.random.default_rng(3)
    w_enc, w_dec, b_dec = dictionary(rng)
    folder = OUT / "demo-sparsify"
    folder.mkdir(parents=True)
    write_json(folder / "cfg.json", {
        "activation": "topk",
        "expansion_factor": D_SAE // D_IN,
        "normalize_decoder": True,
        "num_latents": D_SAE,
        "k": K,
        "multi_topk": False,
        "skip_connection": False,
        "transcode": False,
        "d_in": D_IN,
    })
    write_safetensors(folder / "sae.safetensors", [
        ("W_dec", w_dec),
        ("b_dec", b_dec),
        ("encoder.bias", rng.normal(-0.5, 0.1, size=D_SAE).astype(np.float32)),
        ("encoder.weight", np.ascontiguousarray(w_enc.T)),  # nn.Linear layout [num_latents, d_in]
    ])
    sidecar(folder, "Synthetic EleutherAI sparsify TopK dictionary (k=8); not trained on any model.")


ALIGNED_STREAMS = (("a", 6), ("b", 5), ("c", 4))
ALIGNED_LATENTS, ALIGNED_K = 12, 3


def demo_aligned() -> None:
    """Per stream: unit decoder rows [latents, d], encoder = their transpose plus noise, small
    biases (the layout of tests/fixtures/dicts/aligned_tiny, other weights)."""
    rng = np.random.default_rng(5)
    tensors = []
    for name, d in ALIGNED_STREAMS:
        w_dec = rng.normal(size=(ALIGNED_LATENTS, d))
        w_dec /= np.linalg.norm(w_dec, axis=1, keepdims=True)
        tensors += [
            (f"{name}.W_enc", (w_dec.T + 0.2 * rng.normal(size=(d, ALIGNED_LATENTS))).astype(np.float32)),
            (f"{name}.b_pre", (0.1 * rng.normal(size=d)).astype(np.float32)),
            (f"{name}.b_lat", (0.05 * rng.normal(size=ALIGNED_LATENTS)).astype(np.float32)),
            (f"{name}.W_dec", w_dec.astype(np.float32)),
        ]
    folder = OUT / "demo-aligned"
    folder.mkdir(parents=True)
    write_safetensors(folder / "aligned.safetensors", tensors)
    hashes = {"aligned.safetensors": hashlib.sha256((folder / "aligned.safetensors").read_bytes()).hexdigest()}
    write_json(folder / "saeserve.json", {
        "kind": "aligned",
        "latents": ALIGNED_LATENTS,
        "k": ALIGNED_K,
        "streams": [{"name": n, "d": d} for n, d in ALIGNED_STREAMS],
        "description": "Synthetic aligned (SPARC) dictionary of three streams for trying /v1/aligned; "
                       "not trained on any model.",
        "sha256": hashes,
    })


def main() -> None:
    for name in ("demo-topk", "demo-head", "demo-jumprelu", "demo-sparsify", "demo-aligned"):
        if (OUT / name).exists():
            shutil.rmtree(OUT / name)
    demo_topk()
    demo_jumprelu()
    demo_sparsify()
    demo_aligned()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
