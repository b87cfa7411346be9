"""The service the tests talk to: $SAESERVE_URL (python_client_test.ts starts one and sets it)."""
import os
import unittest

URL = os.environ.get("SAESERVE_URL", "")
needs_service = unittest.skipUnless(URL, "set SAESERVE_URL to a running saeserve (demo store)")
#: A service whose batching queue holds one row ($SAESERVE_BUSY_URL), for the real 429 tests.
BUSY_URL = os.environ.get("SAESERVE_BUSY_URL", "")
