"""PyTorch hooks: steer a module's output through saeserve, or record its codes.

Works on any ``torch.nn.Module`` whose output is a tensor [..., d] or a tuple whose first element
is one (a Hugging Face decoder layer, a TransformerLens hook point, a plain block).
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, List, Optional, Sequence

import torch

from .client import Client, Encoding
from .interventions import Interventions, as_list

POSITIONS = ("all", "last")


def _rows(hidden: torch.Tensor, positions: str) -> torch.Tensor:
    """The rows sent to the service: every position, or the last one of each sequence."""
    if positions not in POSITIONS:
        raise ValueError(f"positions must be 'all' or 'last', got {positions!r}")
    if hidden.dim() < 2:
        raise ValueError(f"the hooked output must be [..., seq, d] or [seq, d], got {tuple(hidden.shape)}")
    picked = hidden if positions == "all" else hidden[..., -1:, :]
    return picked.reshape(-1, hidden.shape[-1])


def _to_numpy(t: torch.Tensor):
    return t.detach().to(device="cpu", dtype=torch.float32).numpy()


def steer_tensor(
    client: Client,
    id: str,
    hidden: torch.Tensor,
    interventions: Interventions,
    positions: str = "all",
) -> torch.Tensor:
    """``hidden`` [..., seq, d] with the chosen positions steered by the service, in its dtype and
    device (a new tensor; ``hidden`` is left as is). Intervention ``positions``, if any, index the
    rows sent: every (batch, position) flattened for "all", one per sequence for "last".
    ``interventions`` as :meth:`saeserve.Client.steer` takes them (a list, or one on its own)."""
    steered = client.steer(id, _to_numpy(_rows(hidden, positions)), interventions)
    back = torch.from_numpy(steered).to(device=hidden.device, dtype=hidden.dtype)
    if positions == "all":
        return back.reshape(hidden.shape)
    out = hidden.detach().clone()
    out[..., -1:, :] = back.reshape(out[..., -1:, :].shape)
    return out


def _first(output: Any) -> torch.Tensor:
    hidden = output[0] if isinstance(output, tuple) else output
    if not isinstance(hidden, torch.Tensor):
        raise TypeError(f"the hooked module must output a tensor or a tuple starting with one, got {type(hidden)}")
    return hidden


@contextlib.contextmanager
def steering(
    module: torch.nn.Module,
    client: Client,
    id: str,
    interventions: Interventions,
    positions: str = "all",
) -> Iterator[torch.utils.hooks.RemovableHandle]:
    """While the block runs, every forward of ``module`` has its output (the first element when it
    is a tuple) steered by dictionary ``id`` and spliced back in the output's dtype and device.

    ``positions="last"`` steers only each sequence's newest position: what incremental decoding
    with a KV cache needs (each step's output then holds just the new token). Steered outputs do
    not carry gradients. The hook is removed on exit, errors included. ``interventions`` as
    :meth:`saeserve.Client.steer` takes them: a list, or one on its own (TypeError, before the hook
    is registered, for anything else).
    """
    if positions not in POSITIONS:
        raise ValueError(f"positions must be 'all' or 'last', got {positions!r}")
    items = as_list(interventions)

    def hook(_module: torch.nn.Module, _inputs: Any, output: Any) -> Any:
        steered = steer_tensor(client, id, _first(output), items, positions)
        return (steered,) + tuple(output[1:]) if isinstance(output, tuple) else steered

    handle = module.register_forward_hook(hook)
    try:
        yield handle
    finally:
        handle.remove()


class Recording:
    """What :func:`encoding` recorded: one :class:`Encoding` per forward of the module."""

    def __init__(self) -> None:
        self.encodings: List[Encoding] = []

    def __len__(self) -> int:
        return len(self.encodings)


@contextlib.contextmanager
def encoding(
    module: torch.nn.Module,
    client: Client,
    id: str,
    top: Optional[int] = None,
    positions: str = "all",
    include: Sequence[str] = (),
) -> Iterator[Recording]:
    """While the block runs, encode ``module``'s output at every forward (rows as in
    :func:`steering`) and append the codes to the yielded :class:`Recording`; outputs unchanged."""
    if positions not in POSITIONS:
        raise ValueError(f"positions must be 'all' or 'last', got {positions!r}")
    recording = Recording()

    def hook(_module: torch.nn.Module, _inputs: Any, output: Any) -> None:
        rows = _to_numpy(_rows(_first(output), positions))
        recording.encodings.append(client.encode(id, rows, top=top, include=include))

    handle = module.register_forward_hook(hook)
    try:
        yield recording
    finally:
        handle.remove()
