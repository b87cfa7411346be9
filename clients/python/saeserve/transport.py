"""HTTP for the client: a keep-alive connection pool and retries on 429 / 503."""
from __future__ import annotations

import email.utils
import json
import queue
import random
import time
from dataclasses import dataclass
from typing import Dict, Mapping, Optional
from urllib.parse import urlsplit

from .errors import SaeServeError
from .http1 import Connection, ConnectionLost, check_request

#: Statuses retried with backoff (over capacity, unavailable).
RETRY_STATUSES = frozenset({429, 503})


@dataclass
class Response:
    """A successful answer: status, lower-cased headers and the whole body."""

    status: int
    headers: Dict[str, str]
    body: bytes

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body)


def retry_after_seconds(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds a Retry-After header asks to wait (delta-seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def problem_error(status: int, reason: str, body: bytes) -> SaeServeError:
    """The error for a non-2xx answer: from its problem+json body, or its status line."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return SaeServeError(
            int(parsed.get("status", status)),
            str(parsed.get("title", reason)),
            str(parsed.get("detail", "")),
            str(parsed.get("type", "about:blank")),
            parsed,
        )
    return SaeServeError(status, reason, body.decode("utf-8", "replace")[:500])


class Transport:
    """Keep-alive connections to one origin, shared by threads, with retries on 429 / 503.

    A 429 or 503 is retried up to ``max_retries`` times, after the answer's Retry-After when it
    has one, else after an exponential backoff with jitter (``backoff`` * 2^attempt, at most
    ``max_backoff``), then raised as SaeServeError. An answer whose Retry-After asks for more
    than ``max_backoff`` seconds is raised at once when it is a 503 (a service naming minutes,
    such as for a dictionary whose files cannot be read, will not answer differently in the
    meantime); a 429's Retry-After is always waited out. A pooled connection the server closed is replaced once, transparently.
    """

    def __init__(
        self,
        base_url: str,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 0.25,
        max_backoff: float = 10.0,
        pool_size: int = 16,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http(s)://host[:port][/prefix], got {base_url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._idle: "queue.LifoQueue[Connection]" = queue.LifoQueue(pool_size)

    def _connect(self) -> Connection:
        return Connection(self._host, self._port, self._https, self.timeout)

    def close(self) -> None:
        """Close every idle connection."""
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def _once(self, method: str, path: str, body: Optional[bytes], headers: Mapping[str, str]):
        """One exchange on a pooled connection (a fresh one if the pooled one went stale)."""
        for attempt in range(2):
            try:
                if attempt > 0:
                    raise queue.Empty  # after a stale one, the others may be stale too
                conn = self._idle.get_nowait()
                reused = True
            except queue.Empty:
                reused = False
                try:
                    conn = self._connect()
                except OSError as e:
                    raise SaeServeError(0, "connection failed", str(e)) from e
            try:
                status, reason, head, data = conn.exchange(method, self._prefix + path, headers, body)
            except ConnectionLost as e:
                if reused and attempt == 0:
                    continue
                raise SaeServeError(0, "connection failed", str(e)) from e
            except TimeoutError as e:  # the connection worked; the answer did not come in time
                conn.close()
                raise SaeServeError(0, "timed out", f"no answer within {self.timeout} s") from e
            except (OSError, ValueError) as e:
                raise SaeServeError(0, "connection failed", str(e)) from e
            if conn.open:
                try:
                    self._idle.put_nowait(conn)
                except queue.Full:
                    conn.close()
            return status, reason, head, data
        raise AssertionError("unreachable")

    def request(
        self,
        method: str,
        path: str,
        body: Optional[bytes] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> Response:
        """Send, retrying 429 / 503; a 2xx answer, or SaeServeError for anything else (ValueError
        for a path or header holding a control character, before anything is sent)."""
        check_request(method, self._prefix + path, headers or {})
        for attempt in range(self.max_retries + 1):
            status, reason, head, data = self._once(method, path, body, headers or {})
            if 200 <= status < 300:
                return Response(status, head, data)
            wait = retry_after_seconds(head.get("retry-after"))
            # A 503 naming a long wait will not answer differently meanwhile; a 429's
            # Retry-After (a rate limit's rest of the minute) is waited out.
            too_long = status == 503 and wait is not None and wait > self.max_backoff
            error = problem_error(status, reason, data)
            # A problem marked "retryable": false (a request past its deadline) would fail again.
            final = isinstance(error.body, dict) and error.body.get("retryable") is False
            if status not in RETRY_STATUSES or attempt == self.max_retries or too_long or final:
                raise error
            if wait is None:
                wait = min(self.max_backoff, self.backoff * (2 ** attempt))
                wait *= 0.5 + random.random() / 2
            time.sleep(wait)
        raise AssertionError("unreachable")
