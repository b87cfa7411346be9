"""The saeserve client: list, describe, encode, decode and steer with numpy arrays."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence
from urllib.parse import quote, urlencode

import numpy as np

from .interventions import Intervention
from .transport import Transport

NPY = "application/x-npy"
NPZ = "application/x-npz"
#: Above this many characters of query string, steer sends JSON instead of .npy + query.
MAX_QUERY = 4000


def to_npy(x: np.ndarray) -> bytes:
    """A 2-D array as .npy bytes, little-endian float32."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(x, dtype="<f4"), allow_pickle=False)
    return buf.getvalue()


def from_npy(data: bytes) -> np.ndarray:
    """An .npy answer as a float32 array."""
    return np.load(io.BytesIO(data), allow_pickle=False).astype(np.float32, copy=False)


def as_rows(x: Any, what: str = "x") -> np.ndarray:
    """``x`` as a 2-D float32 array [rows, d] (one row for a 1-D array). A torch tensor of any
    float dtype, device or ``requires_grad`` is detached and converted first."""
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "float"):
        x = x.detach().float().cpu().numpy()
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"{what} must be [rows, d] or [d], got shape {a.shape}")
    return a


@dataclass
class Encoding:
    """Codes of an encode: ``indices`` int32 and ``values`` float32, both [rows, width], each row's
    latents sorted by value descending and padded with -1 / 0; and the extras ``include`` asked
    for (``reconstruction`` and ``error`` [rows, d_in], ``metrics``)."""

    indices: np.ndarray
    values: np.ndarray
    reconstruction: Optional[np.ndarray] = None
    error: Optional[np.ndarray] = None
    metrics: Optional[Dict[str, Any]] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    def dense(self, d_sae: int) -> np.ndarray:
        """The codes as a dense float32 array [rows, d_sae]."""
        out = np.zeros((self.indices.shape[0], d_sae), dtype=np.float32)
        rows, cols = np.nonzero(self.indices >= 0)
        out[rows, self.indices[rows, cols]] = self.values[rows, cols]
        return out


def _padded(lists: Sequence[Sequence[float]], dtype: Any, fill: float) -> np.ndarray:
    width = max((len(r) for r in lists), default=0)
    out = np.full((len(lists), width), fill, dtype=dtype)
    for i, r in enumerate(lists):
        out[i, : len(r)] = r
    return out


class Client:
    """A connection to saeserve at ``base_url``: .npy on the wire, one keep-alive connection pool
    shared by threads, retries with backoff on 429 and 503 (honouring Retry-After), and every
    error answer raised as :class:`saeserve.SaeServeError`.

    ``api_key`` is sent as ``Authorization: Bearer``; ``timeout`` is per request, in seconds.
    Usable as a context manager (closes the pool).
    """

    def __init__(
        self,
        base_url: str = "http://localhost:8080",
        api_key: Optional[str] = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 0.25,
    ) -> None:
        self.base_url = base_url
        self._transport = Transport(base_url, timeout, max_retries=max_retries, backoff=backoff)
        self._auth = {"authorization": f"Bearer {api_key}"} if api_key else {}

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _path(self, id: str, op: str = "") -> str:
        return "/v1/dictionaries/" + quote(id, safe="") + (f"/{op}" if op else "")

    def _get(self, path: str) -> Any:
        return self._transport.request("GET", path, None, {"accept": "application/json", **self._auth}).json()

    def _post(self, path: str, body: bytes, content_type: str, accept: str):
        headers = {"content-type": content_type, "accept": accept, **self._auth}
        return self._transport.request("POST", path, body, headers)

    def dictionaries(self) -> List[Dict[str, Any]]:
        """Every dictionary in the store: id, format, architecture, d_in, d_sae, loaded, ..."""
        return self._get("/v1/dictionaries")["dictionaries"]

    def describe(self, id: str) -> Dict[str, Any]:
        """Metadata of one dictionary (loads it on the service if needed)."""
        return self._get(self._path(id))

    def encode(
        self,
        id: str,
        x: Any,
        top: Optional[int] = None,
        include: Iterable[str] = (),
    ) -> Encoding:
        """Sparse codes of activations ``x`` [rows, d_in] (or [d_in]); ``top`` keeps at most that
        many largest latents per row; ``include`` any of "reconstruction", "error", "metrics" (a
        list, or one comma-separated string)."""
        query: Dict[str, str] = {}
        if top is not None:
            query["top"] = str(int(top))
        include = include.split(",") if isinstance(include, str) else list(include)
        if include:
            query["include"] = ",".join(include)
        path = self._path(id, "encode") + (f"?{urlencode(query)}" if query else "")
        res = self._post(path, to_npy(as_rows(x)), NPY, NPZ)
        if res.headers.get("content-type", "").startswith(NPZ):
            z = np.load(io.BytesIO(res.body), allow_pickle=False)
            arrays = {k: z[k] for k in z.files}
            metrics = res.headers.get("x-saeserve-metrics")
            return Encoding(
                indices=arrays["indices"].astype(np.int32, copy=False),
                values=arrays["values"].astype(np.float32, copy=False),
                reconstruction=arrays.get("reconstruction"),
                error=arrays.get("error"),
                metrics=json.loads(metrics) if metrics else None,
            )
        return self._encoding_from_json(res.json())

    @staticmethod
    def _encoding_from_json(body: Mapping[str, Any]) -> Encoding:
        extra = {k: v for k, v in body.items()
                 if k not in ("indices", "values", "reconstruction", "error", "metrics")}
        opt = lambda k: None if body.get(k) is None else np.asarray(body[k], dtype=np.float32)  # noqa: E731
        return Encoding(
            indices=_padded(body["indices"], np.int32, -1),
            values=_padded(body["values"], np.float32, 0.0),
            reconstruction=opt("reconstruction"),
            error=opt("error"),
            metrics=body.get("metrics"),
            extra=extra,
        )

    def decode(
        self,
        id: str,
        indices: Any = None,
        values: Any = None,
        codes: Any = None,
    ) -> np.ndarray:
        """Activations [rows, d_in] from sparse codes (``indices`` and ``values`` per row, padding
        with index -1 ignored, e.g. an :class:`Encoding`'s) or dense ``codes`` [rows, d_sae]."""
        if codes is not None:
            if indices is not None or values is not None:
                raise ValueError("pass either codes or indices and values, not both")
            return from_npy(self._post(self._path(id, "decode"), to_npy(as_rows(codes, "codes")), NPY, NPY).body)
        if indices is None or values is None:
            raise ValueError("decode needs codes, or indices and values")
        idx = [np.asarray(r).reshape(-1) for r in indices]
        val = [np.asarray(r, dtype=np.float64).reshape(-1) for r in values]
        if len(idx) != len(val):
            raise ValueError("indices and values need as many rows")
        body = {
            "indices": [[int(i) for i in r[r >= 0]] for r in idx],
            "values": [[float(v) for v in vr[ir >= 0]] for ir, vr in zip(idx, val)],
        }
        res = self._post(self._path(id, "decode"), json.dumps(body).encode(), "application/json", NPY)
        return from_npy(res.body)

    def steer(self, id: str, x: Any, interventions: Sequence[Intervention]) -> np.ndarray:
        """Steered activations, float32 and shaped like ``x`` ([rows, d_in] or [d_in]).

        ``interventions`` are the API's objects (``{"feature", "mode", "value", "positions"?}``),
        e.g. from :func:`saeserve.clamp`; ``positions`` are row indices of ``x``.
        """
        one_row = np.ndim(x) == 1
        rows = as_rows(x)
        items = [dict(iv) for iv in interventions]
        query = "interventions=" + quote(json.dumps(items, separators=(",", ":")), safe="")
        if len(query) <= MAX_QUERY:
            res = self._post(f"{self._path(id, 'steer')}?{query}", to_npy(rows), NPY, NPY)
        else:
            body = json.dumps({"activations": rows.tolist(), "interventions": items}).encode()
            res = self._post(self._path(id, "steer"), body, "application/json", NPY)
        out = from_npy(res.body)
        return out[0] if one_row else out
