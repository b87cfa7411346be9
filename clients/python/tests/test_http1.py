"""The client's HTTP/1.1 connection against a scripted socket server (no service needed): each
answer form it reads, keep-alive and close, a stale pooled connection sent again once, and a
cut-off answer raised, never sent again."""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest
from typing import List, Optional

import saeserve
from saeserve.http1 import Connection, ConnectionLost
from saeserve.transport import Transport


def read_request(conn: socket.socket, buf: bytearray) -> bytes:
    """One request (head and Content-Length body) off `conn`; b"" at end of stream."""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:end])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(buf) < end + length:
        buf += conn.recv(65536)
    request = bytes(buf[: end + length])
    del buf[: end + length]
    return request


class ScriptedServer:
    """Answers each connection's requests with the next scripted answers: a list per connection,
    each item the bytes to send (None: close without answering)."""

    def __init__(self, script: List[List[object]], tls: Optional[ssl.SSLContext] = None) -> None:
        self.script = script
        self.tls = tls
        self.requests: List[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for answers in self.script:
            conn, _ = self.sock.accept()
            if self.tls:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    conn.close()  # the client refused the certificate
                    continue
            buf = bytearray()
            with conn:
                for answer in answers:
                    request = read_request(conn, buf)
                    if not request:
                        break
                    self.requests.append(request)
                    if answer is None:
                        break
                    conn.sendall(answer)

    def close(self) -> None:
        self.sock.close()


OK = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"


class Http1Test(unittest.TestCase):
    def transport(self, port: int) -> Transport:
        return self.transport_for(f"http://127.0.0.1:{port}")

    def transport_for(self, url: str) -> Transport:
        transport = Transport(url, timeout=5)
        self.addCleanup(transport.close)
        return transport

    def serve(self, script: List[List[object]], tls: Optional[ssl.SSLContext] = None) -> ScriptedServer:
        server = ScriptedServer(script, tls)
        self.addCleanup(server.close)
        return server

    def test_answer_forms_on_one_connection(self) -> None:
        chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nX-A: 2\r\n\r\n"
                   b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n")
        interim = b"HTTP/1.1 100 Continue\r\n\r\n" + OK
        big = b"HTTP/1.1 200 OK\r\ncontent-length: 300000\r\n\r\n" + bytes(range(256)) * 1171 + b"ab" * 112
        nobody = b"HTTP/1.1 204 No Content\r\n\r\n"
        to_close = b"HTTP/1.1 200 OK\r\n\r\nuntil the end"
        server = self.serve([[OK, chunked, interim, big, nobody, to_close]])
        conn = Connection("127.0.0.1", server.port, False, 5)
        status, reason, head, body = conn.exchange("POST", "/a?b=1", {"x-h": "v"}, b"xyz")
        self.assertEqual((status, reason, body), (200, "OK", b"hello"))
        status, _, head, body = conn.exchange("GET", "/c", {}, None)
        self.assertEqual((status, body, head["x-a"], head["trailer"] if "trailer" in head else None),
                         (200, b"abcde", "1, 2", None))
        self.assertEqual(conn.exchange("GET", "/d", {}, None)[3], b"hello")
        self.assertEqual(len(conn.exchange("GET", "/e", {}, None)[3]), 300000)
        self.assertEqual(conn.exchange("GET", "/f", {}, None)[:1] + (b"",), (204, b""))
        self.assertTrue(conn.open)
        self.assertEqual(conn.exchange("GET", "/g", {}, None)[3], b"until the end")
        self.assertFalse(conn.open)
        first = server.requests[0]
        self.assertTrue(first.startswith(b"POST /a?b=1 HTTP/1.1\r\nhost: 127.0.0.1:"))
        self.assertIn(b"\r\nx-h: v\r\ncontent-length: 3\r\n\r\nxyz", first)

    def test_connection_close_answer_is_not_pooled(self) -> None:
        closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 2\r\n\r\nhi"
        server = self.serve([[closing], [OK]])
        transport = self.transport(server.port)
        self.assertEqual(transport.request("GET", "/1").body, b"hi")
        self.assertEqual(transport.request("GET", "/2").body, b"hello")
        self.assertEqual(len(server.requests), 2)

    def test_stale_pooled_connection_is_replaced_once(self) -> None:
        # The first connection answers once, then closes on the next request without a byte.
        server = self.serve([[OK, None], [OK]])
        transport = self.transport(server.port)
        self.assertEqual(transport.request("POST", "/1", b"a").body, b"hello")
        self.assertEqual(transport.request("POST", "/2", b"b").body, b"hello")
        self.assertEqual([r.split(b" ")[1] for r in server.requests], [b"/1", b"/2", b"/2"])

    def test_cut_off_answer_is_an_error_not_sent_again(self) -> None:
        cut = b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\nonly part"
        server = self.serve([[OK, cut], [OK]])
        transport = self.transport(server.port)
        transport.request("POST", "/1", b"a")
        with self.assertRaises(saeserve.SaeServeError) as caught:
            transport.request("POST", "/2", b"b")
        self.assertEqual(caught.exception.status, 0)
        self.assertIn("ended after 9 of 50 bytes", caught.exception.detail)
        self.assertEqual(len(server.requests), 2)

    def test_fresh_connection_closed_without_answer_is_an_error(self) -> None:
        server = self.serve([[None]])
        with self.assertRaises(ConnectionLost):
            Connection("127.0.0.1", server.port, False, 5).exchange("GET", "/", {}, None)
        server.close()
        transport = Transport(f"http://127.0.0.1:{server.port}", timeout=2)
        with self.assertRaises(saeserve.SaeServeError):
            transport.request("GET", "/")  # nobody listens: a connection failure

    def test_malformed_answers_are_errors(self) -> None:
        for bad, why in ((b"SPDY/3 200 OK\r\n\r\n", "status line"),
                         (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "header line"),
                         (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "")):
            server = self.serve([[bad]])
            conn = Connection("127.0.0.1", server.port, False, 5)
            with self.assertRaisesRegex(ValueError, why):
                conn.exchange("GET", "/", {}, None)
            self.assertFalse(conn.open)

    def test_unsafe_requests_and_negative_lengths_are_refused(self) -> None:
        server = self.serve([[b"HTTP/1.1 200 OK\r\ncontent-length: -3\r\n\r\n"]])
        conn = Connection("127.0.0.1", server.port, False, 5)
        for headers, target in (({"x-key": "a\r\nx-evil: 1"}, "/"), ({}, "/a b\r\nx: y")):
            with self.assertRaisesRegex(ValueError, "control character"):
                conn.exchange("GET", target, headers, None)
        self.assertTrue(conn.open)  # refused before anything was sent
        with self.assertRaisesRegex(ValueError, "malformed Content-Length: -3"):
            conn.exchange("GET", "/", {}, None)
        self.assertEqual(server.requests, [server.requests[0]])
        self.assertNotIn(b"evil", server.requests[0])

    def test_loose_or_unsupported_framing_is_an_error(self) -> None:
        cases = (
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nab\r\n0\r\n\r\n", "chunk size"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", "chunk size"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 7\r\n\r\nabcdefg", "Content-Length"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc", "Content-Length"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc", "Transfer-Encoding"),
            (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc", "gzip-encoded"),
            (b"HTTP/1.1 200 OK\r\nX-A: a\r\n b:c\r\nContent-Length: 0\r\n\r\n", "folded"),
            (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "101"),
        )
        for answer, why in cases:
            server = self.serve([[answer]])
            conn = Connection("127.0.0.1", server.port, False, 5)
            with self.assertRaisesRegex(ValueError, why):
                conn.exchange("GET", "/", {}, None)
            self.assertFalse(conn.open)
        same = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
        server = self.serve([[same]])
        conn = Connection("127.0.0.1", server.port, False, 5)
        self.addCleanup(conn.close)
        self.assertEqual(conn.exchange("GET", "/", {}, None)[3], b"hello")
        self.assertIn(b"\r\naccept-encoding: identity\r\n", server.requests[0])

    def test_every_stale_pooled_connection_is_skipped(self) -> None:
        # Three pooled connections all closed by a restart: the next request still succeeds.
        server = self.serve([[OK], [OK], [OK], [OK]])  # each closes after one answer
        transport = self.transport(server.port)
        conns = [transport._connect() for _ in range(3)]
        for conn in conns:
            self.assertEqual(conn.exchange("GET", "/warm", {}, None)[3], b"hello")
            transport._idle.put_nowait(conn)
        self.assertEqual(transport.request("GET", "/after").body, b"hello")

    def test_refused_header_sends_nothing_and_keeps_the_connection(self) -> None:
        server = self.serve([[OK]])
        transport = self.transport(server.port)
        with self.assertRaisesRegex(ValueError, "control character"):
            transport.request("GET", "/", headers={"authorization": "Bearer a\nb"})
        self.assertEqual(transport._idle.qsize(), 0)  # no connection was even taken
        self.assertEqual(transport.request("GET", "/ok").body, b"hello")

    def test_ipv6_host_header_is_bracketed(self) -> None:
        try:
            listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
        except OSError:
            self.skipTest("no IPv6 loopback")
        self.addCleanup(listener.close)
        port = listener.getsockname()[1]
        got: List[bytes] = []

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                got.append(read_request(conn, bytearray()))
                conn.sendall(OK)

        threading.Thread(target=answer, daemon=True).start()
        self.assertEqual(self.transport_for(f"http://[::1]:{port}").request("GET", "/").body, b"hello")
        self.assertIn(f"\r\nhost: [::1]:{port}\r\n".encode(), got[0])

    def test_timeout_is_a_connection_failure(self) -> None:
        listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
        self.addCleanup(listener.close)
        transport = Transport(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=0.2)
        with self.assertRaises(saeserve.SaeServeError) as caught:
            transport.request("GET", "/")
        self.assertEqual(caught.exception.status, 0)

    @unittest.skipUnless(shutil.which("openssl"), "needs openssl to make a certificate")
    def test_https_verifies_the_certificate(self) -> None:
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
             "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", key, "-out", cert],
            check=True, capture_output=True,
        )
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        server = self.serve([[], [OK, OK]], tls)  # the refused handshake takes the first
        # Not trusted: a connection failure that says why.
        untrusted = self.transport(server.port)
        untrusted._https = True
        with self.assertRaises(saeserve.SaeServeError) as caught:
            untrusted.request("GET", "/")
        self.assertIn("CERTIFICATE_VERIFY_FAILED", caught.exception.detail)
        # Trusted (as a deployment's CA bundle would be): two exchanges on one TLS connection.
        old = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = cert
        self.addCleanup(lambda: os.environ.pop("SSL_CERT_FILE") if old is None else os.environ.update(SSL_CERT_FILE=old))
        transport = Transport(f"https://localhost:{server.port}", timeout=5)
        self.addCleanup(transport.close)
        self.assertEqual(transport.request("GET", "/1").body, b"hello")
        self.assertEqual(transport.request("GET", "/2").body, b"hello")
        self.assertEqual(len(server.requests), 2)
        self.assertTrue(server.requests[0].startswith(b"GET /1 HTTP/1.1\r\nhost: localhost:"))


if __name__ == "__main__":
    unittest.main()
