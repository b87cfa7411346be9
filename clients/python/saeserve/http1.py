"""One keep-alive HTTP/1.1 connection, lean enough for a request per generated token.

A request goes out in one ``sendall`` (line, headers and body together, so Nagle's algorithm
never holds the body back); the answer is read straight from the socket: status line, headers,
then a Content-Length, chunked or read-to-close body. ``http.client`` costs about 0.3 ms more per
exchange here (a file object per answer and the ``email`` header parser).
"""
from __future__ import annotations

import re
import socket
import ssl
from typing import Dict, List, Mapping, Optional, Tuple

#: Characters a request line or header must not hold (CR, LF and other controls).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS = re.compile(r"[0-9]{1,18}")
#: The longest status line plus headers accepted.
MAX_HEAD = 64 * 1024
_RECV = 64 * 1024


def check_request(method: str, target: str, headers: Mapping[str, str]) -> None:
    """ValueError when the request line or a header holds a control character (CR, LF, ...)."""
    if _UNSAFE.search(method + target) or any(_UNSAFE.search(f"{k}{v}") for k, v in headers.items()):
        raise ValueError("a request line or header holds a control character or a line break")


class ConnectionLost(ConnectionError):
    """The server closed the connection before answering (a pooled one may just have gone stale)."""


class Connection:
    """A keep-alive connection to ``host:port`` (TLS when ``https``); one exchange at a time."""

    def __init__(self, host: str, port: Optional[int], https: bool, timeout: Optional[float]) -> None:
        port = port or (443 if https else 80)
        sock = socket.create_connection((host, port), timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if https:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        name = f"[{host}]" if ":" in host else host  # an IPv6 literal goes in brackets
        self._host = name if port == (443 if https else 80) else f"{name}:{port}"
        self._buf = bytearray()
        self._chunk = bytearray(_RECV)
        self._chunk_view = memoryview(self._chunk)
        self._answering = False
        self.open = True

    def close(self) -> None:
        """Close the socket."""
        self.open = False
        self._sock.close()

    def exchange(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: Optional[bytes],
    ) -> Tuple[int, str, Dict[str, str], bytes]:
        """Send one request and read its answer: status, reason, lower-cased headers (repeats
        joined by ", "), body. Raises ValueError, before sending anything (the connection stays
        usable), for control characters in the request line or headers; after sending, the
        connection is closed on any failure: ConnectionLost when the server closed or reset it
        before any byte of the answer (safe to send again), OSError for other socket failures,
        ValueError for a malformed, encoded or cut-off answer."""
        self._answering = bool(self._buf)
        check_request(method, target, headers)
        try:
            lines = [f"{method} {target} HTTP/1.1", f"host: {self._host}", "accept-encoding: identity"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            if body is not None or method in ("POST", "PUT", "PATCH"):
                lines.append(f"content-length: {len(body or b'')}")
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            self._sock.sendall(head + body if body else head)
            status, reason, answer, keep = self._read_head(method)
            data = self._read_body(method, status, answer)
        except (ConnectionResetError, BrokenPipeError) as e:
            self.close()
            if self._answering:
                raise ValueError(f"the connection broke in the middle of the answer: {e}") from e
            raise ConnectionLost(str(e)) from e
        except BaseException:
            self.close()
            raise
        if not keep:
            self.close()
        return status, reason, answer, data

    def _fill(self) -> None:
        got = self._sock.recv_into(self._chunk)  # into a kept buffer: no 64 KiB allocation per read
        if not got:
            if self._answering:
                raise ValueError("the server closed the connection in the middle of its answer")
            raise ConnectionLost("the server closed the connection")
        self._answering = True
        self._buf += self._chunk_view[:got]

    def _read_head(self, method: str) -> Tuple[int, str, Dict[str, str], bool]:
        while True:  # skips 1xx interim answers
            text = self._read_until(b"\r\n\r\n", "the answer's headers").decode("latin-1")
            first, *rest = text.split("\r\n")
            parts = first.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise ValueError(f"not an HTTP/1.x status line: {first[:80]!r}")
            status = int(parts[1])
            if status == 101:
                raise ValueError("the server switched protocols (101), which this client never asks for")
            if 100 <= status < 200:
                continue
            answer: Dict[str, str] = {}
            for line in rest:
                name, sep, value = line.partition(":")
                if not sep or line[:1] in (" ", "\t"):
                    raise ValueError(f"malformed (or folded) header line: {line[:80]!r}")
                name, value = name.strip().lower(), value.strip()
                answer[name] = f"{answer[name]}, {value}" if name in answer else value
            tokens = [t.strip() for t in answer.get("connection", "").lower().split(",")]
            keep = "keep-alive" in tokens if parts[0] == "HTTP/1.0" else "close" not in tokens
            return status, parts[2] if len(parts) > 2 else "", answer, keep

    def _read_exact(self, n: int) -> bytes:
        if len(self._buf) >= n:
            out = bytes(self._buf[:n])
            del self._buf[:n]
            return out
        out = bytearray(n)
        view = memoryview(out)
        have = len(self._buf)
        view[:have] = self._buf
        self._buf.clear()
        while have < n:
            got = self._sock.recv_into(view[have:])
            if not got:
                raise ValueError(f"the answer ended after {have} of {n} bytes")
            have += got
        return bytes(out)

    def _read_until(self, separator: bytes, what: str) -> bytes:
        """The bytes up to `separator` (consumed, not returned), at most MAX_HEAD of them."""
        end = self._buf.find(separator)
        while end < 0:
            if len(self._buf) > MAX_HEAD:
                raise ValueError(f"{what} are too long")
            self._fill()
            end = self._buf.find(separator)
        out = bytes(self._buf[:end])
        del self._buf[: end + len(separator)]
        return out

    def _read_line(self) -> bytes:
        return self._read_until(b"\r\n", "a chunk header's bytes")

    def _read_body(self, method: str, status: int, answer: Mapping[str, str]) -> bytes:
        if method == "HEAD" or status in (204, 304):
            return b""
        coding = answer.get("content-encoding", "identity").strip().lower()
        if coding not in ("", "identity"):
            raise ValueError(f"the answer is {coding}-encoded; this client asks for identity")
        transfer = answer.get("transfer-encoding", "").strip().lower()
        if transfer and transfer != "chunked":
            raise ValueError(f"unsupported Transfer-Encoding: {transfer[:80]}")
        if transfer:
            parts: List[bytes] = []
            while True:
                field = self._read_line().split(b";")[0].strip()
                if not _HEX.fullmatch(field):
                    raise ValueError(f"malformed chunk size: {field[:20]!r}")
                size = int(field, 16)
                if size == 0:
                    while self._read_line():  # trailers, up to the empty line
                        pass
                    return b"".join(parts)
                parts.append(self._read_exact(size))
                if self._read_exact(2) != b"\r\n":
                    raise ValueError("a chunk does not end in CRLF")
        if "content-length" in answer:
            values = {v.strip() for v in answer["content-length"].split(",")}
            if len(values) != 1 or not _DIGITS.fullmatch(next(iter(values))):
                raise ValueError(f"malformed Content-Length: {answer['content-length'][:80]}")
            return self._read_exact(int(values.pop()))
        while True:  # no length: the body runs to the end of the connection
            got = self._sock.recv_into(self._chunk)
            if not got:
                out = bytes(self._buf)
                self._buf.clear()
                self.close()
                return out
            self._buf += self._chunk_view[:got]
