"""Hostile input: over 100,000 generated malformed bodies, headers and content types.

In process, hypothesis (derandomized: the same inputs every run) draws request bodies and
Content-Types and ``Scorer.score`` gets each on one of seven fixture models: it must never
raise and must answer only 200, 400, 415, the 404 a model raising MLflow's
RESOURCE_DOES_NOT_EXIST asks for, or the documented 500 for a prediction that cannot be
written as JSON. Live, a seeded generator sends whole requests, malformed at every layer, to a
real server on raw sockets: no 5xx but the documented ones (501 for a Transfer-Encoding other
than chunked, from waitress as RFC 9112 asks; 503 past the in-flight limit; 504 past the
timeout), no crash (the same server process throughout), no hang (each request answered or
its connection closed in time) and bounded memory (VmRSS growth). Counts and runtimes go to
the run's summary.
"""
from __future__ import annotations

import io
import json
import logging
import time
import unittest
import warnings
from typing import Any, Dict, List

from hypothesis import HealthCheck, given, settings

from tests.fuzz_client import FuzzRun, vm_rss_kib
from tests.fuzz_inputs import RawRequests, cases, variants
from tests.support import SUMMARY_LINES, fixture, request, start_tinyserve
from tinyserve.errors import ScoringError
from tinyserve.payload import decode_json

MODELS = ["pyfunc_echo", "pyfunc_colsig", "pyfunc_params", "pyfunc_complex", "pyfunc_tensor",
          "pyfunc_typehint_pydantic", "sk_skops"]
DECODER_EXAMPLES = 6_000  # hypothesis draws; each becomes ~10 inputs (fuzz_inputs.variants)
LIVE_REQUESTS = 50_000
LIVE_WARM_UP = 3_000  # before the first memory reading: caches and arenas settle
RSS_GROWTH_BOUND_KIB = 64 * 1024
HARD_DEADLINE_S = 150.0  # per part; the usual runtime is well under half of this
SERIALIZE_500 = "The model's prediction cannot be serialized to JSON"
JSON_HEADERS = {"Content-Type": "application/json"}

COLSIG_ROW = {"bo": True, "i32": 1, "i64": 2, "f32": 1.5, "f64": 2.5, "s": "x",
              "bin": "aGVsbG8=", "dt": "2024-01-02T03:04:05"}


def parquet_sample() -> bytes:
    import pandas as pd

    buffer = io.BytesIO()
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0], "s": ["x", None]}).to_parquet(buffer)
    return buffer.getvalue()


def live_sample_bodies() -> List[bytes]:
    """Valid and nearly valid bodies for ``pyfunc_colsig``, the live server's model."""
    columns, row = list(COLSIG_ROW), list(COLSIG_ROW.values())
    docs: List[Any] = [
        {"dataframe_split": {"columns": columns, "data": [row, row]}},
        {"dataframe_records": [COLSIG_ROW]},
        {"inputs": COLSIG_ROW}, {"instances": [COLSIG_ROW]},
        {"dataframe_split": {"columns": columns, "data": [[*row[:1], 2.7, *row[2:]]]}},
        {"dataframe_records": [{**COLSIG_ROW, "bo": "true"}]},
        {"dataframe_records": [{**COLSIG_ROW, "i64": 2 ** 70}]},
        {"dataframe_split": {"columns": columns[:3], "data": [row[:3]]}},
        {"dataframe_records": [COLSIG_ROW], "params": {"x": 1}},
        {"messages": [{"role": "user", "content": "hi"}]},
    ]
    bodies = [json.dumps(doc).encode() for doc in docs]
    bodies.append((",".join(columns) + "\n" + ",".join(map(str, row)) + "\n").encode())
    bodies.append(parquet_sample())
    return bodies


class DecoderRegressionTest(unittest.TestCase):
    """Inputs the fuzzing found to escape the decoder, each now a 400."""

    def test_integer_literal_past_pythons_digit_limit_is_a_bad_request(self) -> None:
        for body in (b'{"inputs": [' + b"9" * 5000 + b"]}", b"-" + b"1" * 4301):
            with self.subTest(size=len(body)):
                with self.assertRaises(ScoringError) as caught:
                    decode_json(body)
                self.assertEqual(caught.exception.status, 400)
                self.assertIn("Exceeds the limit (4300 digits)", caught.exception.message)


class DecoderFuzzTest(unittest.TestCase):
    def test_scorer_never_raises_and_answers_only_documented_statuses(self) -> None:
        from tinyserve.pyfunc import load_pyfunc
        from tinyserve.scoring import Scorer

        scorers = [Scorer(load_pyfunc(fixture(name))) for name in MODELS]
        seen: Dict[int, int] = {}
        count = [0]
        deadline = time.monotonic() + HARD_DEADLINE_S

        @settings(max_examples=DECODER_EXAMPLES, derandomize=True, database=None,
                  deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
        @given(cases(parquet_sample(), len(scorers)))
        def throw(case: tuple) -> None:
            model, body, content_type, salt = case
            if time.monotonic() > deadline:
                return  # out of time: the count below says so
            for data, kind in variants(body, content_type, salt):
                count[0] += 1
                reply = scorers[model].score(data, kind)  # raising fails the test
                seen[reply.status] = seen.get(reply.status, 0) + 1
                self.check_documented(MODELS[model], reply)

        started = time.monotonic()
        logging.disable(logging.CRITICAL)  # the models' own errors are logged with tracebacks
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                throw()
        finally:
            logging.disable(logging.NOTSET)
        elapsed = time.monotonic() - started
        SUMMARY_LINES.append(f"fuzz (decoder): {count[0]} inputs from {DECODER_EXAMPLES} "
                             f"hypothesis draws on {len(MODELS)} models in {elapsed:.0f} s; "
                             f"statuses {dict(sorted(seen.items()))}")
        self.assertLess(time.monotonic(), deadline, f"cut short at {count[0]} inputs")
        self.assertGreater(count[0], 50_000)

    def check_documented(self, model: str, reply: Any) -> None:
        if reply.status == 415:
            self.assertTrue(reply.content_type.startswith("text/plain"))
            return
        self.assertEqual(reply.content_type, "application/json")
        body = json.loads(reply.body)  # every other answer is valid JSON
        if reply.status == 200:
            return
        code = body["error_code"]
        allowed = {400: ("BAD_REQUEST", "INVALID_PARAMETER_VALUE"),
                   404: ("RESOURCE_DOES_NOT_EXIST",) if model == "pyfunc_params" else (),
                   500: ("INTERNAL_ERROR",)}
        self.assertIn(code, allowed.get(reply.status, ()), (model, reply))
        if reply.status == 500:
            self.assertTrue(body["message"].startswith(SERIALIZE_500), body)


class LiveFuzzTest(unittest.TestCase):
    def test_malformed_requests_get_no_undocumented_5xx_no_crash_no_hang_bounded_memory(
            self) -> None:
        server = start_tinyserve(fixture("pyfunc_colsig"), "--header-timeout", "2", "-t", "10")
        pid = server.process.pid
        samples = live_sample_bodies()
        try:
            warm = RawRequests(seed=1, sample_bodies=samples)
            FuzzRun(server.port, warm.next, LIVE_WARM_UP, 64, HARD_DEADLINE_S).run()
            rss_before = vm_rss_kib(pid)
            raw = RawRequests(seed=20261124, sample_bodies=samples)
            run = FuzzRun(server.port, raw.next, LIVE_REQUESTS, 64, HARD_DEADLINE_S).run()
            rss_after = vm_rss_kib(pid)
            alive = server.process.poll() is None
            ping = request(server.port, "GET", "/ping", timeout=5)
            valid = request(server.port, "POST", "/invocations", samples[0], JSON_HEADERS,
                            timeout=5)
        finally:
            code, log = server.stop()
        growth = (rss_after or 0) - (rss_before or 0)
        SUMMARY_LINES.append(
            f"fuzz (live server): {run.finished} requests (+{LIVE_WARM_UP} warm-up) in "
            f"{run.elapsed:.0f} s; statuses {dict(sorted(run.statuses.items()))}, "
            f"{run.closed_unanswered} closed unanswered, {len(run.hangs)} hangs; VmRSS "
            f"{rss_before} -> {rss_after} KiB ({growth:+d} KiB); kinds {run.by_kind}")
        self.assertFalse(run.timed_out, f"cut short after {run.finished} requests")
        self.assertEqual(run.finished, LIVE_REQUESTS)
        self.assertEqual(run.refused, 0)
        self.assertEqual(run.hangs, [])
        self.assertEqual([error for error in run.server_errors if not documented(*error)], [])
        self.assertTrue(alive)
        self.assertIsNotNone(rss_before)
        self.assertLess(growth, RSS_GROWTH_BOUND_KIB)
        self.assertEqual((ping.status, valid.status), (200, 200), valid.body)
        self.assertNotIn("Unhandled error", log)
        self.assertEqual(code, 0, log[-2000:])


def documented(kind: str, status: int, response: bytes) -> bool:
    """The 5xx answers tinyserve documents."""
    if status == 501:  # waitress: a Transfer-Encoding it cannot decode (RFC 9112 6.1)
        return b"Transfer-Encoding requested is not supported" in response
    if status == 503:
        return b"TEMPORARILY_UNAVAILABLE" in response and b"Retry-After" in response
    if status == 504:
        return b"DEADLINE_EXCEEDED" in response
    return False


if __name__ == "__main__":
    unittest.main()
