"""The one error type of the client: a problem+json answer (or a transport failure)."""
from __future__ import annotations

from typing import Any, Mapping, Optional


class SaeServeError(Exception):
    """An error answer of saeserve (RFC 9457 problem details), or a request that never got one.

    ``status`` is the HTTP status (0 when no answer came back), ``title`` and ``detail`` come
    from the problem+json body, ``type`` is its problem type URI, ``body`` the whole parsed body.
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        type: str = "about:blank",
        body: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.body = dict(body or {})
        message = f"{status} {title}" if status else title
        super().__init__(f"{message}: {detail}" if detail else message)
