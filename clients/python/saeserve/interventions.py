"""Steering interventions as the API's JSON objects, with small constructors."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

#: One intervention exactly as the API takes it (``feature``, ``mode``, ``value``, ``positions``...).
Intervention = Dict[str, Any]
#: What ``steer`` takes: a list of interventions, or one on its own.
Interventions = Union[Intervention, Sequence[Intervention]]


def as_list(interventions: Any) -> List[Intervention]:
    """``interventions`` as a new list of new dicts: one intervention on its own (a mapping, such
    as :func:`clamp` returns) is a list of one. TypeError for anything else than a mapping or an
    iterable of mappings (a feature number, a string, ...)."""
    if isinstance(interventions, Mapping):
        return [dict(interventions)]
    what = "interventions must be a list of interventions (dicts such as saeserve.clamp(3, 1.0) returns)"
    if isinstance(interventions, (str, bytes)):
        raise TypeError(f"{what}, got {type(interventions).__name__}")
    try:
        items = list(interventions)
    except TypeError:
        raise TypeError(f"{what}, got {type(interventions).__name__}") from None
    for n, iv in enumerate(items):
        if not isinstance(iv, Mapping):
            raise TypeError(f"{what}: element {n} is {type(iv).__name__}")
    return [dict(iv) for iv in items]


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
