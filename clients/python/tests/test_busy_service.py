"""Retries on a real 429: the service started with a one-row batching queue
(SAESERVE_QUEUE_MAX_ROWS=1, SAESERVE_BATCH_MAX_ROWS=1, SAESERVE_BATCH_WAIT_MS=300) turns away
every steer that arrives while another waits, with Retry-After: 1; concurrent callers must
retry and all succeed."""
import re
import threading
import time
import unittest
import urllib.request
from typing import List

import numpy as np

import saeserve

from .service import BUSY_URL

ID = "demo-topk"
CALLERS = 4
STEER_429 = re.compile(r'saeserve_http_requests_total\{[^}]*route="/v1/dictionaries/:id/steer"[^}]*status="429"\} (\d+)')


def steer_429s() -> int:
    """How many steer requests the busy service has answered 429 so far."""
    with urllib.request.urlopen(f"{BUSY_URL}/metrics", timeout=10) as res:
        text = res.read().decode()
    return sum(int(n) for n in STEER_429.findall(text))


@unittest.skipUnless(BUSY_URL, "set SAESERVE_BUSY_URL to a saeserve with a one-row queue (demo store)")
class BusyServiceTest(unittest.TestCase):
    def test_without_retries_the_429_is_raised(self) -> None:
        client = saeserve.Client(BUSY_URL, max_retries=0)
        x = np.full((1, 64), 0.5, dtype=np.float32)
        client.steer(ID, x, [saeserve.clamp(3, 5.0)])  # loads the dictionary
        errors: List[saeserve.SaeServeError] = []
        start = threading.Barrier(2)

        def call() -> None:
            start.wait()
            try:
                client.steer(ID, x, [saeserve.clamp(3, 5.0)])
            except saeserve.SaeServeError as e:
                errors.append(e)

        threads = [threading.Thread(target=call) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        client.close()
        self.assertEqual([e.status for e in errors], [429])  # max_retries=0: raised, not retried
        self.assertIn("queue", errors[0].detail)

    def test_concurrent_steers_are_retried_until_they_succeed(self) -> None:
        x = np.random.default_rng(3).normal(size=(CALLERS, 1, 64)).astype(np.float32)
        ivs = [saeserve.clamp(3, 5.0), saeserve.ablate(11)]
        with saeserve.Client(BUSY_URL, max_retries=CALLERS + 4) as client:
            expected = client.steer(ID, x.reshape(CALLERS, 64), ivs)  # one request: no 429
            before = steer_429s()
            results: List[np.ndarray] = [np.empty(0)] * CALLERS
            start = threading.Barrier(CALLERS)

            def call(i: int) -> None:
                start.wait()
                results[i] = client.steer(ID, x[i], ivs)

            began = time.monotonic()
            threads = [threading.Thread(target=call, args=(i,)) for i in range(CALLERS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            took = time.monotonic() - began
        for i, got in enumerate(results):
            np.testing.assert_array_equal(got, expected[i : i + 1])  # rows are batched bit-exactly
        self.assertGreaterEqual(steer_429s() - before, CALLERS - 1)  # really turned away ...
        self.assertGreaterEqual(took, 0.95)  # ... and retried after Retry-After: 1


if __name__ == "__main__":
    unittest.main()
