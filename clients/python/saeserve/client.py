"""The saeserve client: list, describe, encode, decode and steer with numpy arrays."""
from __future__ import annotations

import io
import json
import math
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence
from urllib.parse import quote, urlencode

import numpy as np

from .interventions import Interventions, as_list
from .transport import Transport

NPY = "application/x-npy"
NPZ = "application/x-npz"
#: Above this many characters of query string, steer sends JSON instead of .npy + query.
MAX_QUERY = 4000


def to_npy(x: np.ndarray) -> bytes:
    """An array as .npy bytes (version 1.0, little-endian float32, C order): what np.save writes
    for up to a few dimensions, without its per-call cost."""
    a = np.ascontiguousarray(x, dtype="<f4")
    shape = f"({a.shape[0]},)" if a.ndim == 1 else "(" + ", ".join(map(str, a.shape)) + ")"
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin-1") + a.tobytes()


#: The dtypes read without numpy's header parser (what saeserve writes, and numbers only).
_PLAIN_DTYPES = {"<f4", "<f2", "<f8", "<i4", "<i8", "|u1", "|i1", "|b1"}
_NPY_HEADER = re.compile(
    r"\{'descr': '([^']*)', 'fortran_order': False, 'shape': \(((?:\d+, )+\d+|\d+,|)\), \} *\n"
)
_ZIP_LOCAL = struct.Struct("<4sHHHHHIIIHH")


def _plain_npy(member: memoryview) -> Optional[np.ndarray]:
    """A C-order .npy of numbers with numpy's own header layout, read directly (numpy's reader
    tokenizes the header, ~0.1 ms an array); None for anything else, which np.load then reads."""
    if len(member) < 10 or member[:6] != b"\x93NUMPY" or member[6] != 1:
        return None
    end = 10 + int.from_bytes(member[8:10], "little")
    m = _NPY_HEADER.fullmatch(bytes(member[10:end]).decode("latin-1"))
    if not m or m.group(1) not in _PLAIN_DTYPES:
        return None
    shape = tuple(int(d) for d in m.group(2).split(",") if d.strip())
    dtype = np.dtype(m.group(1))
    count = math.prod(shape)
    if len(member) - end != count * dtype.itemsize:
        return None
    return np.frombuffer(member, dtype, count, end).reshape(shape).copy()


def _zip64_sizes(extra: memoryview) -> Optional[tuple]:
    """The (uncompressed, compressed) sizes in a ZIP64 extra field (numpy writes one)."""
    at = 0
    while at + 4 <= len(extra):
        tag, n = struct.unpack_from("<HH", extra, at)
        if tag == 1 and n >= 16:
            return struct.unpack_from("<QQ", extra, at + 4)
        at += 4 + n
    return None


def _plain_npz(data: bytes) -> Optional[Dict[str, np.ndarray]]:
    """The arrays of an .npz whose members are stored (np.savez, and what saeserve writes); None
    for anything else (compressed, unusual headers), which np.load then reads. A member whose
    CRC does not match raises ValueError."""
    view = memoryview(data)
    out: Dict[str, np.ndarray] = {}
    at = 0
    while data.startswith(b"PK\x03\x04", at) and at + _ZIP_LOCAL.size <= len(data):
        _, _, flags, method, _, _, crc, size, usize, nlen, xlen = _ZIP_LOCAL.unpack_from(data, at)
        name_at = at + _ZIP_LOCAL.size
        start = name_at + nlen + xlen
        if size == 0xFFFFFFFF or usize == 0xFFFFFFFF:
            sizes = _zip64_sizes(view[name_at + nlen : start])
            if sizes is None:
                return None
            usize, size = sizes
        if flags & 0x9 or method != 0 or size != usize:
            return None
        name = bytes(view[name_at : name_at + nlen]).decode("utf-8", "replace")
        member = view[start : start + size]
        if len(member) != size or not name.endswith(".npy"):
            return None
        if zlib.crc32(member) != crc:
            raise ValueError(f"the .npz answer is corrupt: {name} fails its CRC check")
        array = _plain_npy(member)
        if array is None:
            return None
        out[name[:-4]] = array
        at = start + size
    return out if out and data.startswith(b"PK\x01\x02", at) else None


def from_npy(data: bytes) -> np.ndarray:
    """An .npy answer as a float32 array."""
    a = _plain_npy(memoryview(data))
    if a is None:
        a = np.load(io.BytesIO(data), allow_pickle=False)
    return a.astype(np.float32, copy=False)


def from_npz(data: bytes) -> Dict[str, np.ndarray]:
    """An .npz answer's arrays by name."""
    arrays = _plain_npz(data)
    if arrays is None:
        z = np.load(io.BytesIO(data), allow_pickle=False)
        arrays = {k: z[k] for k in z.files}
    return arrays


def _non_finite(value: Any, path: str) -> Optional[tuple]:
    """The path and value of the first NaN or infinite number inside ``value``, if any."""
    if isinstance(value, (float, np.floating)):
        return None if math.isfinite(value) else (path, float(value))
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _non_finite(v, f"{path}[{i}]")
            if found:
                return found
    elif isinstance(value, Mapping):
        for k, v in value.items():
            found = _non_finite(v, f"{path}.{k}")
            if found:
                return found
    return None


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


def _check_integers(ix: np.ndarray, row: int) -> None:
    """ValueError unless row ``row`` of decode's indices holds integers only (1.7 would otherwise
    be sent as feature 1). Whole floats (3.0, as a float .npy holds them) pass."""
    if ix.dtype.kind in "iu":
        return
    if ix.dtype.kind == "f":
        bad = ~np.isfinite(ix) | (ix != np.trunc(ix))
    else:  # bool, str, object (Python ints beyond int64 are fine: the service judges their range)
        bad = np.array([isinstance(i, bool) or not isinstance(i, (int, np.integer)) for i in ix.tolist()], dtype=bool)
    if bad.any():
        j = int(np.argmax(bad))
        raise ValueError(f"indices must be integers: row {row} has {ix.tolist()[j]!r} at position {j}")


def _sparse_codes(indices: Any, values: Any) -> Dict[str, List[List[Any]]]:
    """The JSON body of a sparse decode: each row's indices and values as given, less padding
    (index -1 with value 0, as :class:`Encoding` pads short rows). ValueError, naming the row, for
    what the service would refuse: a different number of rows or of entries in a row, an index
    that is not an integer, a negative index other than padding."""
    idx = [np.asarray(r).reshape(-1) for r in indices]
    val = [np.asarray(r, dtype=np.float64).reshape(-1) for r in values]
    if len(idx) != len(val):
        raise ValueError(f"indices has {len(idx)} rows but values has {len(val)}")
    body: Dict[str, List[List[Any]]] = {"indices": [], "values": []}
    for r, (ix, v) in enumerate(zip(idx, val)):
        if len(ix) != len(v):
            raise ValueError(f"row {r}: {len(ix)} indices but {len(v)} values")
        if not np.isfinite(v).all():  # JSON has no NaN or Infinity (the service would say 400)
            j = int(np.argmax(~np.isfinite(v)))
            raise ValueError(f"values[{r}][{j}] must be a finite number, not {v[j]}")
        _check_integers(ix, r)
        padding = np.asarray(ix == -1, dtype=bool) & (v == 0)
        negative = np.asarray(ix < 0, dtype=bool) & ~padding
        if negative.any():
            j = int(np.argmax(negative))
            why = f"its value is {v[j]:g}; " if ix[j] == -1 else ""
            raise ValueError(
                f"row {r}: feature index {int(ix[j])} is out of range ({why}-1 is padding only with value 0)"
            )
        keep = ~padding
        body["indices"].append([int(i) for i in ix[keep]])
        body["values"].append([float(e) for e in v[keep]])
    return body


class Client:
    """A connection to saeserve at ``base_url``: .npy on the wire, one keep-alive connection pool
    shared by threads, retries with backoff on 429 and 503 (honouring Retry-After; a 503 asking
    for more than ``max_backoff`` seconds is raised at once), and every error answer raised as
    :class:`saeserve.SaeServeError`.

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
        max_backoff: float = 10.0,
    ) -> None:
        self.base_url = base_url
        self._transport = Transport(
            base_url, timeout, max_retries=max_retries, backoff=backoff, max_backoff=max_backoff
        )
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
        # Metrics come as JSON: an .npz answer carries them in a header that grows with the rows
        # (~40 bytes a row), past this client's 64 KiB head limit and proxies' header buffers.
        accept = "application/json" if "metrics" in include else NPZ
        res = self._post(path, to_npy(as_rows(x)), NPY, accept)
        if res.headers.get("content-type", "").startswith(NPZ):
            arrays = from_npz(res.body)
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
        """Activations [rows, d_in] from sparse codes (``indices`` and ``values`` per row, e.g. an
        :class:`Encoding`'s: index -1 with value 0 is padding, left out) or dense ``codes``
        [rows, d_sae]. ValueError, before anything is sent, for sparse codes the service would
        refuse: rows of different lengths, an index that is not an integer, or a negative one
        other than padding."""
        if codes is not None:
            if indices is not None or values is not None:
                raise ValueError("pass either codes or indices and values, not both")
            return from_npy(self._post(self._path(id, "decode"), to_npy(as_rows(codes, "codes")), NPY, NPY).body)
        if indices is None or values is None:
            raise ValueError("decode needs codes, or indices and values")
        body = json.dumps(_sparse_codes(indices, values)).encode()
        res = self._post(self._path(id, "decode"), body, "application/json", NPY)
        return from_npy(res.body)

    def steer(self, id: str, x: Any, interventions: Interventions) -> np.ndarray:
        """Steered activations, float32 and shaped like ``x`` ([rows, d_in] or [d_in]).

        ``interventions`` are the API's objects (``{"feature", "mode", "value", "positions"?}``),
        e.g. from :func:`saeserve.clamp`, in a list (one on its own is a list of one); ``positions``
        are row indices of ``x``. Before anything is sent: TypeError for something else than
        interventions, ValueError for a value that is NaN or infinite.
        """
        one_row = np.ndim(x) == 1
        rows = as_rows(x)
        items = as_list(interventions)
        bad = _non_finite(items, "interventions")
        if bad:  # JSON has no NaN or Infinity (json.dumps would write a bare NaN the service refuses)
            raise ValueError(f"{bad[0]} must be a finite number, not {bad[1]}")
        query = "interventions=" + quote(json.dumps(items, separators=(",", ":")), safe="")
        if len(query) <= MAX_QUERY:
            res = self._post(f"{self._path(id, 'steer')}?{query}", to_npy(rows), NPY, NPY)
        else:
            body = json.dumps({"activations": rows.tolist(), "interventions": items}).encode()
            res = self._post(self._path(id, "steer"), body, "application/json", NPY)
        out = from_npy(res.body)
        return out[0] if one_row else out
