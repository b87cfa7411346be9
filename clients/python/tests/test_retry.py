"""Retries on 429 / 503 honouring Retry-After, errors, and keep-alive, against a scripted stub."""
import io
import json
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List, Tuple

import numpy as np

import saeserve

Answer = Tuple[int, dict, bytes]


def problem(status: int, title: str, detail: str) -> bytes:
    return json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()


def npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a.astype("<f4"))
    return buf.getvalue()


class Stub:
    """A keep-alive HTTP/1.1 server answering from a script (the last answer repeats)."""

    def __init__(self, script: List[Answer]) -> None:
        self.script, self.seen, self.ports = list(script), [], set()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                stub.seen.append((time.monotonic(), self.path, body))
                stub.ports.add(self.client_address[1])
                status, headers, data = stub.script.pop(0) if len(stub.script) > 1 else stub.script[0]
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


PROBLEM = {"content-type": "application/problem+json"}


class RetryTest(unittest.TestCase):
    def test_429_and_503_are_retried_after_retry_after(self) -> None:
        x = np.ones((2, 4), dtype=np.float32)
        stub = Stub([
            (429, {**PROBLEM, "retry-after": "1"}, problem(429, "Too Many Requests", "queue full")),
            (503, {**PROBLEM, "retry-after": "0"}, problem(503, "Service Unavailable", "loading")),
            (200, {"content-type": "application/x-npy"}, npy(x * 2)),
        ])
        try:
            with saeserve.Client(stub.url, backoff=0.01) as client:
                out = client.steer("d", x, [saeserve.add(0, 1.0)])
            np.testing.assert_array_equal(out, x * 2)
            times = [t for t, _, _ in stub.seen]
            self.assertEqual(len(times), 3)
            self.assertGreaterEqual(times[1] - times[0], 0.95)  # Retry-After: 1 honoured
            self.assertEqual(len({body for _, _, body in stub.seen}), 1)  # the same request resent
            self.assertEqual(len(stub.ports), 1)  # one keep-alive connection throughout
        finally:
            stub.close()

    def test_gives_up_after_max_retries_with_the_problem(self) -> None:
        stub = Stub([(503, PROBLEM, problem(503, "Service Unavailable", "store unreachable"))])
        try:
            with saeserve.Client(stub.url, max_retries=2, backoff=0.01) as client, \
                    self.assertRaises(saeserve.SaeServeError) as caught:
                client.steer("d", np.zeros((1, 4)), [])
            err = caught.exception
            self.assertEqual((err.status, err.title, err.detail), (503, "Service Unavailable", "store unreachable"))
            self.assertEqual(len(stub.seen), 3)
        finally:
            stub.close()

    def test_a_retry_after_beyond_max_backoff_is_raised_at_once(self) -> None:
        # A dictionary whose files cannot be read: the service names when it will look again.
        stub = Stub([(503, {**PROBLEM, "retry-after": "211"}, problem(503, "Service Unavailable", "cannot be read"))])
        try:
            started = time.monotonic()
            with saeserve.Client(stub.url, backoff=0.01, max_backoff=5) as client, \
                    self.assertRaises(saeserve.SaeServeError) as caught:
                client.steer("d", np.zeros((1, 4)), [])
            self.assertLess(time.monotonic() - started, 2)
            self.assertEqual((caught.exception.status, caught.exception.detail), (503, "cannot be read"))
            self.assertEqual(len(stub.seen), 1)
        finally:
            stub.close()

    def test_an_answer_that_does_not_come_is_a_timeout_not_a_connection_failure(self) -> None:
        import socket
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)  # accepts connections, never answers
        try:
            port = listener.getsockname()[1]
            with saeserve.Client(f"http://127.0.0.1:{port}", timeout=0.3, max_retries=0) as client, \
                    self.assertRaises(saeserve.SaeServeError) as caught:
                client.steer("d", np.zeros((1, 4)), [])
            self.assertEqual((caught.exception.status, caught.exception.title), (0, "timed out"))
            self.assertIn("no answer within 0.3 s", caught.exception.detail)
        finally:
            listener.close()

    def test_a_problem_marked_not_retryable_is_raised_at_once(self) -> None:
        # A request past the service's deadline would meet it again: the service says so.
        body = json.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                           "detail": "the request exceeded its 1000 ms deadline", "retryable": False}).encode()
        stub = Stub([(503, PROBLEM, body)])
        try:
            with saeserve.Client(stub.url, backoff=0.01) as client, \
                    self.assertRaises(saeserve.SaeServeError) as caught:
                client.steer("d", np.zeros((1, 4)), [])
            self.assertEqual(caught.exception.status, 503)
            self.assertEqual(len(stub.seen), 1)
        finally:
            stub.close()

    def test_a_429_retry_after_is_waited_out_even_beyond_max_backoff(self) -> None:
        x = np.ones((1, 4), dtype=np.float32)
        stub = Stub([
            (429, {**PROBLEM, "retry-after": "1"}, problem(429, "Too Many Requests", "rate limit")),
            (200, {"content-type": "application/x-npy"}, npy(x)),
        ])
        try:
            with saeserve.Client(stub.url, backoff=0.01, max_backoff=0.2) as client:
                np.testing.assert_array_equal(client.steer("d", x, []), x)
            times = [t for t, _, _ in stub.seen]
            self.assertGreaterEqual(times[1] - times[0], 0.95)
        finally:
            stub.close()

    def test_client_errors_are_not_retried(self) -> None:
        stub = Stub([(422, PROBLEM, problem(422, "Unprocessable Content", "feature 9 outside [0, 4)"))])
        try:
            with saeserve.Client(stub.url, backoff=0.01) as client, \
                    self.assertRaises(saeserve.SaeServeError) as caught:
                client.steer("d", np.zeros((1, 4)), [saeserve.clamp(9, 1)])
            self.assertEqual(caught.exception.status, 422)
            self.assertEqual(len(stub.seen), 1)
            self.assertTrue(stub.seen[0][1].startswith("/v1/dictionaries/d/steer?interventions="))
        finally:
            stub.close()

    def test_non_problem_bodies_and_refused_connections(self) -> None:
        stub = Stub([(500, {"content-type": "text/plain"}, b"boom")])
        try:
            with saeserve.Client(stub.url) as client, self.assertRaises(saeserve.SaeServeError) as caught:
                client.describe("d")
            self.assertEqual((caught.exception.status, caught.exception.detail), (500, "boom"))
        finally:
            stub.close()
        with self.assertRaises(saeserve.SaeServeError) as caught:
            saeserve.Client(stub.url, timeout=2).dictionaries()
        self.assertEqual(caught.exception.status, 0)

    def test_retry_after_dates(self) -> None:
        from saeserve.transport import retry_after_seconds
        self.assertEqual(retry_after_seconds("3"), 3.0)
        self.assertIsNone(retry_after_seconds(None))
        self.assertAlmostEqual(retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0), 10.0)


if __name__ == "__main__":
    unittest.main()
