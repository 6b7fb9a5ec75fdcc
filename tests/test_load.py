"""Load: 20,000 requests at concurrency 64 on a 2-worker server; every answer checked.

Each request carries its own value and must get back exactly its own echo (``pyfunc_echo``
describes what it received), so an answer sent to the wrong connection fails the test. The
64 keep-alive connections must each stay open for the whole run (no dropped or reset
connection). Throughput and latency go to the run's summary (the CI log); they are figures,
not assertions. 64 connections over 2 workers stay under the default in-flight limit of a
single worker, so no request may be shed.
"""
from __future__ import annotations

import re
import unittest

from tests.http_load import OK, LoadRun, echo_plan
from tests.support import SUMMARY_LINES, fixture, start_tinyserve

REQUESTS = 20_000
CONCURRENCY = 64
DEADLINE_S = 300.0  # the whole run is abandoned (and fails) after this


class LoadTest(unittest.TestCase):
    def test_20000_requests_at_concurrency_64_all_answered_correctly_on_their_own_connection(
            self) -> None:
        server = start_tinyserve(fixture("pyfunc_echo"), "-w", "2")
        try:
            run = LoadRun(server.port, echo_plan, REQUESTS, CONCURRENCY, DEADLINE_S).run()
        finally:
            code, log = server.stop()
        SUMMARY_LINES.append(f"load: {REQUESTS} requests, concurrency {CONCURRENCY}, 2 workers "
                             f"(pyfunc_echo): {run.summary()}")
        self.assertFalse(run.timed_out, f"not done within {DEADLINE_S} s: {run.summary()}")
        self.assertEqual(run.counts[OK], REQUESTS, run.summary())
        self.assertEqual(run.failures, [])
        self.assertEqual(len(run.ports_used), CONCURRENCY, "a connection was dropped and reopened")
        self.assertEqual(code, 0, log[-3000:])
        self.assertEqual(len(re.findall(r"POST /invocations 200 ", log)), REQUESTS)
        for sign in ("Traceback", " ERROR ", "starting a new one"):
            self.assertNotIn(sign, log)


if __name__ == "__main__":
    unittest.main()
