"""A tiny causal transformer (d_model 64, as the demo dictionaries) with a KV cache, for tests.

Its blocks return tuples (hidden, cache) as Hugging Face decoder layers do.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
from torch import nn

Cache = Tuple[torch.Tensor, torch.Tensor]


class Block(nn.Module):
    """Pre-norm single-head attention and MLP; returns (hidden, (keys, values))."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor, cache: Optional[Cache] = None) -> Tuple[torch.Tensor, Cache]:
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=1), torch.cat([cache[1], v], dim=1)
        scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
        n, m = q.shape[1], k.shape[1]
        future = torch.ones(n, m, dtype=torch.bool).triu(m - n + 1)
        scores = scores.masked_fill(future, float("-inf"))
        x = x + self.out(scores.softmax(-1) @ v)
        return x + self.mlp(self.ln2(x)), (k, v)


class TinyLM(nn.Module):
    """Embedding, two blocks, final norm and unembedding; greedy generation with a KV cache."""

    def __init__(self, vocab: int = 48, d: int = 64, max_len: int = 64, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.embed, self.pos = nn.Embedding(vocab, d), nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList([Block(d), Block(d)])
        self.ln_f, self.unembed = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

    def forward(self, ids: torch.Tensor, caches: Optional[List[Cache]] = None):
        start = 0 if caches is None else caches[0][0].shape[1]
        x = self.embed(ids) + self.pos(torch.arange(start, start + ids.shape[1]))
        new: List[Cache] = []
        for i, block in enumerate(self.blocks):
            x, c = block(x, None if caches is None else caches[i])
            new.append(c)
        return self.unembed(self.ln_f(x)), new

    @torch.no_grad()
    def generate(self, ids: torch.Tensor, steps: int) -> List[int]:
        """Greedy decoding of `steps` tokens: one prefill, then one position per step."""
        logits, caches = self(ids)
        out: List[int] = []
        for _ in range(steps):
            token = logits[:, -1].argmax(-1, keepdim=True)
            out.append(int(token[0, 0]))
            logits, caches = self(token, caches)
        return out
