"""Steering interventions as the API's JSON objects, with small constructors."""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

#: One intervention exactly as the API takes it (``feature``, ``mode``, ``value``, ``positions``...).
Intervention = Dict[str, Any]


def _make(mode: str, feature: int, value: float, positions: Optional[Iterable[int]]) -> Intervention:
    out: Intervention = {"feature": int(feature), "mode": mode, "value": float(value)}
    if positions is not None:
        out["positions"] = [int(p) for p in positions]
    return out


def clamp(feature: int, value: float, positions: Optional[Iterable[int]] = None) -> Intervention:
    """Set latent ``feature`` to ``value`` (on the given rows; every row by default)."""
    return _make("clamp", feature, value, positions)


def add(feature: int, value: float, positions: Optional[Iterable[int]] = None) -> Intervention:
    """Add ``value`` to latent ``feature``: x' = x + value * W_dec[feature]."""
    return _make("add", feature, value, positions)


def scale(feature: int, factor: float, positions: Optional[Iterable[int]] = None) -> Intervention:
    """Multiply latent ``feature`` by ``factor``."""
    return _make("scale", feature, factor, positions)


def ablate(feature: int, positions: Optional[Iterable[int]] = None) -> Intervention:
    """Set latent ``feature`` to zero."""
    return _make("ablate", feature, 0.0, positions)
