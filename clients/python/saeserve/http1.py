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
#: The longest status line plus headers accepted.
MAX_HEAD = 64 * 1024
_RECV = 64 * 1024


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
        joined by ", "), body. Raises ConnectionLost when the server closed or reset the
        connection before any byte of the answer (safe to send again), OSError for other socket
        failures, ValueError for a request with control characters in its line or headers and
        for a malformed or cut-off answer; after any of these but the first the connection is
        closed."""
        self._answering = bool(self._buf)
        if _UNSAFE.search(method + target) or any(_UNSAFE.search(f"{k}{v}") for k, v in headers.items()):
            raise ValueError("a request line or header holds a control character or a line break")
        try:
            lines = [f"{method} {target} HTTP/1.1", f"host: {self._host}"]
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
            end = self._buf.find(b"\r\n\r\n")
            while end < 0:
                if len(self._buf) > MAX_HEAD:
                    raise ValueError("the answer's headers are too long")
                self._fill()
                end = self._buf.find(b"\r\n\r\n")
            text = bytes(self._buf[:end]).decode("latin-1")
            del self._buf[: end + 4]
            first, *rest = text.split("\r\n")
            parts = first.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise ValueError(f"not an HTTP/1.x status line: {first[:80]!r}")
            status = int(parts[1])
            if 100 <= status < 200 and status != 101:
                continue
            answer: Dict[str, str] = {}
            for line in rest:
                name, sep, value = line.partition(":")
                if not sep:
                    raise ValueError(f"malformed header line: {line[:80]!r}")
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

    def _read_line(self) -> bytes:
        end = self._buf.find(b"\r\n")
        while end < 0:
            if len(self._buf) > MAX_HEAD:
                raise ValueError("a chunk header is too long")
            self._fill()
            end = self._buf.find(b"\r\n")
        line = bytes(self._buf[:end])
        del self._buf[: end + 2]
        return line

    def _read_body(self, method: str, status: int, answer: Mapping[str, str]) -> bytes:
        if method == "HEAD" or status in (204, 304):
            return b""
        if "chunked" in answer.get("transfer-encoding", "").lower():
            parts: List[bytes] = []
            while True:
                size = int(self._read_line().split(b";")[0].strip() or b"x", 16)
                if size == 0:
                    while self._read_line():  # trailers, up to the empty line
                        pass
                    return b"".join(parts)
                parts.append(self._read_exact(size))
                if self._read_exact(2) != b"\r\n":
                    raise ValueError("a chunk does not end in CRLF")
        if "content-length" in answer:
            length = int(answer["content-length"].split(",")[0])
            if length < 0:
                raise ValueError(f"a negative Content-Length: {length}")
            return self._read_exact(length)
        while True:  # no length: the body runs to the end of the connection
            got = self._sock.recv_into(self._chunk)
            if not got:
                out = bytes(self._buf)
                self._buf.clear()
                self.close()
                return out
            self._buf += self._chunk_view[:got]
