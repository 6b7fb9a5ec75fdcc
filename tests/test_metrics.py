"""``/metrics``: the exposition text, the recording, and the totals of real multi-worker servers.

A strict parser of the text format 0.0.4 (below) checks every answer; the counts are checked
against requests the tests sent themselves, in-process and over real HTTP. It is longer than
400 lines because the parser, the renderer, the recording and the live servers are one
subject, and every live test checks its scrape with the same parser.
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import threading
import time
import unittest
from typing import Dict, List, Tuple

from tests.support import fixture, request, start_tinyserve
from tests.test_wsgi import EchoScorer, call
from tinyserve.metrics import OVERRUNS, Metrics, enabled, overrunning_predictions
from tinyserve.metrics_text import Family, escape_label, format_value, render
from tinyserve.scoring import count_rows
from tinyserve.deadlines import run_with_timeout
from tinyserve.wsgi import ScoringApp

JSON = {"Content-Type": "application/json"}
SPLIT = json.dumps({"dataframe_split": {"columns": ["a", "b"],
                                        "data": [[0.0, 1.0], [5.0, 2.0]]}}).encode()
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# -- a strict parser of the text exposition format 0.0.4 ------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
PAIR = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^(?P<name>{NAME})(?:\{{(?P<labels>{PAIR}(?:,{PAIR})*)?\}})? "
                    rf"(?P<value>\S+)(?: -?\d+)?$")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
Series = Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]  # (name, sorted labels) -> value


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def parse_value(text: str) -> float:
    if not re.fullmatch(r"[+-]?(Inf|NaN|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)", text):
        raise AssertionError(f"not a sample value: {text!r}")
    return float(text)


def parse_exposition(text: str) -> Tuple[Dict[str, str], Series]:
    """Family types and every sample; AssertionError where the text breaks the format."""
    assert text.endswith("\n"), "the text ends with a line feed"
    types: Dict[str, str] = {}
    helps: Dict[str, str] = {}
    series: Series = {}
    finished: List[str] = []  # families whose samples are over
    current = None
    for number, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {number}: {line!r}"
        if line.startswith("#"):
            match = re.fullmatch(rf"# (HELP|TYPE) ({NAME}) (.*)", line)
            assert match, where
            kind, name, rest = match.groups()
            assert name not in finished and name != current, f"{kind} after samples, {where}"
            if kind == "TYPE":
                assert rest in TYPES and name not in types, where
                types[name] = rest
            else:
                assert name not in helps, where
                helps[name] = rest
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line, {where}"
        name, label_text, value_text = match["name"], match["labels"] or "", match["value"]
        family = name
        if name not in types:
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert types.get(family) == "histogram", f"sample of no declared family, {where}"
        assert family in helps, f"sample before HELP, {where}"
        if family != current:
            assert family not in finished, f"samples of {family} not together, {where}"
            if current:
                finished.append(current)
            current = family
        labels = tuple(sorted((k, unescape(v)) for k, v in re.findall(LABEL, label_text)))
        assert len({k for k, _ in labels}) == len(labels), f"repeated label, {where}"
        key = (name, labels)
        assert key not in series, f"repeated series, {where}"
        series[key] = parse_value(value_text)
    for family, kind in types.items():
        if kind == "histogram":
            check_histogram(family, series)
    return types, series


def check_histogram(family: str, series: Series) -> None:
    buckets: Dict[tuple, List[Tuple[float, float]]] = {}
    for (name, labels), value in series.items():
        if name == family + "_bucket":
            rest = tuple(pair for pair in labels if pair[0] != "le")
            bound = parse_value(dict(labels)["le"])
            buckets.setdefault(rest, []).append((bound, value))
    for rest, pairs in buckets.items():
        bounds = [bound for bound, _ in pairs]
        counts = [count for _, count in pairs]
        assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), (family, rest)
        assert bounds[-1] == math.inf, f"{family}{rest}: the last bucket is +Inf"
        assert counts == sorted(counts), f"{family}{rest}: buckets are cumulative"
        assert series[(family + "_count", rest)] == counts[-1], f"{family}{rest}: +Inf = _count"
        assert (family + "_sum", rest) in series, f"{family}{rest}: _sum"


def value(series: Series, name: str, **labels: str) -> float:
    """A sample's value; 0 for a labelled series not shown yet (it has not happened)."""
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(port: int) -> Series:
    reply = request(port, "GET", "/metrics")
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == PROMETHEUS_TYPE, reply.headers
    return parse_exposition(reply.body.decode("utf-8"))[1]


def requests_total(series: Series, route: str, status: str) -> float:
    return value(series, "tinyserve_requests_total", route=route, status=status)


def wait_for(predicate, timeout: float = 15.0, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def children_of(pid: int) -> List[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(p) for p in handle.read().split()]


# -- the renderer and the recording, in-process -----------------------------------------------


class RenderTest(unittest.TestCase):
    def test_values_are_written_as_the_go_parser_reads_them(self) -> None:
        table = [(3.0, "3"), (0.0, "0"), (-2.0, "-2"), (0.0025, "0.0025"), (1e-05, "1e-05"),
                 (1.5, "1.5"), (1e20, "1e+20"), (math.inf, "+Inf"), (-math.inf, "-Inf"),
                 (math.nan, "NaN")]
        for number, text in table:
            with self.subTest(number=number):
                self.assertEqual(format_value(number), text)
                self.assertEqual(parse_value(text) == number, not math.isnan(number))

    def test_label_values_escape_backslash_quote_and_newline(self) -> None:
        self.assertEqual(escape_label('a\\b"c\nd'), 'a\\\\b\\"c\\nd')

    def test_families_get_help_and_type_before_their_samples(self) -> None:
        text = render([
            Family("x_total", "counter", "Things.\nMany \\ things.",
                   [("", {"kind": 'q"'}, 2.0), ("", {"kind": "b"}, 1.0)]),
            Family("y", "gauge", "A level.", [("", {}, 0.5)]),
            Family("z", "counter", "None yet.", []),
        ]).decode()
        self.assertEqual(text, (
            "# HELP x_total Things.\\nMany \\\\ things.\n# TYPE x_total counter\n"
            'x_total{kind="q\\""} 2\nx_total{kind="b"} 1\n'
            "# HELP y A level.\n# TYPE y gauge\ny 0.5\n"
            "# HELP z None yet.\n# TYPE z counter\n"))
        types, series = parse_exposition(text)
        self.assertEqual(types, {"x_total": "counter", "y": "gauge", "z": "counter"})
        self.assertEqual(value(series, "x_total", kind='q"'), 2.0)

    def test_the_parser_refuses_broken_texts(self) -> None:
        broken = {
            "no HELP": "# TYPE a counter\na 1\n",
            "no TYPE": "# HELP a A.\na 1\n",
            "TYPE after samples": "# HELP a A.\n# TYPE a gauge\na 1\n# TYPE a gauge\n",
            "split family": ("# HELP a A.\n# TYPE a gauge\na{k=\"1\"} 1\n# HELP b B.\n"
                             "# TYPE b gauge\nb 1\na{k=\"2\"} 1\n"),
            "bad value": "# HELP a A.\n# TYPE a gauge\na one\n",
            "unquoted label": "# HELP a A.\n# TYPE a gauge\na{k=1} 1\n",
            "no final newline": "# HELP a A.\n# TYPE a gauge\na 1",
            "buckets not cumulative": (
                "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                "h_sum 1\nh_count 1\n"),
            "+Inf is not _count": (
                "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                "h_sum 1\nh_count 3\n"),
            "no +Inf bucket": ("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
                               "h_sum 1\nh_count 1\n"),
        }
        for why, text in broken.items():
            with self.subTest(why=why):
                with self.assertRaises(AssertionError):
                    parse_exposition(text)


class RecordingTest(unittest.TestCase):
    def series(self, metrics: Metrics) -> Series:
        return parse_exposition(metrics.render().decode())[1]

    def test_requests_are_counted_by_known_route_and_status_never_by_raw_path(self) -> None:
        metrics = Metrics()
        for path, method, status in [("/ping", "GET", 200), ("/ping", "POST", 405),
                                     ("/secret/x", "GET", 404), ("/invocations", "POST", 418)]:
            metrics.request_started()
            metrics.request_finished(path, method, status, 0.01)
        series = self.series(metrics)
        self.assertEqual(requests_total(series, "/ping", "200"), 1)
        self.assertEqual(requests_total(series, "/ping", "405"), 1)
        self.assertEqual(requests_total(series, "other", "404"), 1)
        self.assertEqual(requests_total(series, "/invocations", "other"), 1)
        self.assertNotIn("/secret/x", metrics.render().decode())
        self.assertEqual(value(series, "tinyserve_requests_in_flight"), 0)

    def test_a_duration_on_a_bucket_bound_falls_in_that_bucket(self) -> None:
        metrics = Metrics()
        for seconds in (0.001, 0.0011, 61.0):
            metrics.request_finished("/ping", "GET", 200, seconds)
        series = self.series(metrics)
        name = "tinyserve_request_duration_seconds"
        for bound, count in [("0.001", 1), ("0.0025", 2), ("60", 2), ("+Inf", 3)]:
            with self.subTest(le=bound):
                self.assertEqual(value(series, name + "_bucket", route="/ping", le=bound), count)
        self.assertAlmostEqual(value(series, name + "_sum", route="/ping"), 61.0021)

    def test_rows_count_successes_and_errors_count_failed_predictions_only(self) -> None:
        metrics = Metrics()
        for path, method, status, rows in [("/invocations", "POST", 200, 5),
                                           ("/invocations", "POST", 400, 0),
                                           ("/invocations", "POST", 504, 0),
                                           ("/invocations", "GET", 405, 0),
                                           ("/ping", "GET", 200, 7)]:
            metrics.request_finished(path, method, status, 0.01, rows)
        series = self.series(metrics)
        self.assertEqual(value(series, "tinyserve_rows_scored_total"), 5)
        errors = {dict(labels)["status"]: count for (name, labels), count in series.items()
                  if name == "tinyserve_prediction_errors_total"}
        self.assertEqual(errors, {"400": 1, "504": 1})

    def test_rows_sums_every_worker_row_and_a_dead_worker_keeps_its_counters(self) -> None:
        metrics = Metrics()
        metrics.share(2)
        for slot in (0, 1, 1):
            metrics.claim_row(slot)
            metrics.request_started()
            metrics.request_finished("/invocations", "POST", 200, 0.01, 2)
        metrics.claim_row(1)
        metrics.request_started()  # still running when its worker dies
        metrics.set_overrunning(1)
        metrics.worker_gone(1, replaced=True)
        series = self.series(metrics)
        self.assertEqual(requests_total(series, "/invocations", "200"), 3)
        self.assertEqual(value(series, "tinyserve_rows_scored_total"), 6)
        self.assertEqual(value(series, "tinyserve_requests_in_flight"), 0)
        self.assertEqual(value(series, "tinyserve_predictions_overrunning"), 0)
        self.assertEqual(value(series, "tinyserve_worker_restarts_total"), 1)

    def test_an_answer_given_outside_the_app_leaves_in_flight_alone(self) -> None:
        metrics = Metrics()
        metrics.request_started()
        metrics.request_finished("/invocations", "POST", 503, 0.0, started=False)
        series = self.series(metrics)
        self.assertEqual(value(series, "tinyserve_requests_in_flight"), 1)
        self.assertEqual(requests_total(series, "/invocations", "503"), 1)

    def test_sharing_keeps_what_was_set_before_the_fork(self) -> None:
        metrics = Metrics()
        metrics.set_model_load_seconds(2.5)
        started = value(self.series(metrics), "tinyserve_start_time_seconds")
        metrics.share(2)
        series = self.series(metrics)
        self.assertEqual(value(series, "tinyserve_model_load_seconds"), 2.5)
        self.assertEqual(value(series, "tinyserve_start_time_seconds"), started)
        self.assertGreater(started, 0)

    def test_forked_workers_write_rows_the_parent_reads(self) -> None:
        metrics = Metrics()
        metrics.share(3)
        pids = []
        for slot in (1, 2):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                try:
                    metrics.claim_row(slot)
                    for _ in range(slot * 10):
                        metrics.request_finished("/ping", "GET", 200, 0.001)
                finally:
                    os._exit(0)
            pids.append(pid)
        for pid in pids:
            self.assertEqual(os.waitpid(pid, 0)[1], 0)
        self.assertEqual(requests_total(self.series(metrics), "/ping", "200"), 30)

    def test_metrics_are_on_unless_the_flag_or_the_variable_says_off(self) -> None:
        table = [(None, {}, True), (None, {"TINYSERVE_METRICS": "0"}, False),
                 (None, {"TINYSERVE_METRICS": "off"}, False),
                 (None, {"TINYSERVE_METRICS": "1"}, True), (False, {}, False),
                 (True, {"TINYSERVE_METRICS": "0"}, True)]
        for flag, environ, expected in table:
            with self.subTest(flag=flag, environ=environ):
                self.assertEqual(enabled(flag, environ), expected)

    def test_rows_are_the_length_of_the_model_input(self) -> None:
        table = [([1, 2, 3], 3), ({"a": [1, 2], "b": [3, 4]}, 2), ({"a": "text"}, 1),
                 ("one prompt", 1), (7, 1), ({}, 1)]
        for data, rows in table:
            with self.subTest(data=data):
                self.assertEqual(count_rows(data), rows)


class OverrunTest(unittest.TestCase):
    def test_an_overrun_is_counted_until_its_thread_ends(self) -> None:
        release = threading.Event()
        seen: List[int] = []
        before = overrunning_predictions()
        listener, OVERRUNS.listener = OVERRUNS.listener, seen.append
        try:
            self.assertIsNone(run_with_timeout(lambda: release.wait(10), 0.05))
            self.assertEqual(overrunning_predictions(), before + 1)
            release.set()
            self.assertTrue(wait_for(lambda: overrunning_predictions() == before, 10, 0.01))
        finally:
            OVERRUNS.listener = listener
        self.assertEqual(seen, [before + 1, before])

    def test_work_done_in_time_is_no_overrun(self) -> None:
        before = overrunning_predictions()
        self.assertEqual(run_with_timeout(lambda: 42, 5), 42)
        self.assertEqual(overrunning_predictions(), before)


class AppTest(unittest.TestCase):
    def test_get_and_head_metrics_answer_the_exposition_type(self) -> None:
        app = ScoringApp(EchoScorer(), metrics=Metrics())
        call(app, "POST", "/invocations", b"{}", {"Content-Type": "application/json"})
        status, headers, body = call(app, "GET", "/metrics")
        self.assertEqual((status, headers["content-type"]), (200, PROMETHEUS_TYPE))
        self.assertEqual(requests_total(parse_exposition(body.decode())[1], "/invocations",
                                        "200"), 1)
        status, headers, body = call(app, "HEAD", "/metrics")
        self.assertEqual((status, body), (200, b""))

    def test_without_metrics_the_path_is_unknown(self) -> None:
        status, _, _ = call(ScoringApp(EchoScorer()), "GET", "/metrics")
        self.assertEqual(status, 404)


# -- real servers --------------------------------------------------------------------------------


class SingleWorkerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = start_tinyserve(fixture("pyfunc_params"), "-t", "1")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def overrunning(self) -> float:
        return value(scrape(self.server.port), "tinyserve_predictions_overrunning")

    def sleep_request(self) -> int:
        body = json.dumps({"inputs": [1], "params": {"kind": "sleep", "temperature": 3}})
        return request(self.server.port, "POST", "/invocations", body.encode(), JSON).status

    def test_a_known_sequence_of_requests_is_counted(self) -> None:
        port = self.server.port
        self.assertTrue(wait_for(lambda: self.overrunning() == 0))
        before = scrape(port)
        statuses = [
            request(port, "POST", "/invocations", b'{"inputs": [1, 2, 3]}', JSON).status,
            request(port, "POST", "/invocations", b'{"inputs": [4]}', JSON).status,
            request(port, "POST", "/invocations", b"not json", JSON).status,
            request(port, "GET", "/no/such/path").status,
            request(port, "GET", "/invocations").status,
            self.sleep_request(),
        ]
        self.assertEqual(statuses, [200, 200, 400, 404, 405, 504])
        after = scrape(port)

        def grew(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        expected = [(("/invocations", "200"), 2), (("/invocations", "400"), 1),
                    (("other", "404"), 1), (("/invocations", "405"), 1),
                    (("/invocations", "504"), 1), (("/metrics", "200"), 1)]
        for (route, status), count in expected:
            with self.subTest(route=route, status=status):
                self.assertEqual(grew("tinyserve_requests_total", route=route, status=status),
                                 count)
        self.assertEqual(grew("tinyserve_rows_scored_total"), 4)
        self.assertEqual(grew("tinyserve_prediction_errors_total", status="400"), 1)
        self.assertEqual(grew("tinyserve_prediction_errors_total", status="504"), 1)
        self.assertEqual(grew("tinyserve_request_duration_seconds_count", route="/invocations"),
                         5)
        self.assertEqual(value(after, "tinyserve_requests_in_flight"), 1)  # this scrape
        self.assertGreater(value(after, "tinyserve_model_load_seconds"), 0)
        self.assertEqual(value(after, "tinyserve_workers"), 1)

    def test_the_overrunning_gauge_holds_a_504_prediction_until_it_ends(self) -> None:
        self.assertTrue(wait_for(lambda: self.overrunning() == 0))
        self.assertEqual(self.sleep_request(), 504)
        self.assertEqual(self.overrunning(), 1)  # it sleeps 3 s; the 504 came after 1 s
        self.assertTrue(wait_for(lambda: self.overrunning() == 0))
        self.assertEqual(request(self.server.port, "GET", "/ping").status, 200)

    def test_head_metrics_sends_headers_only(self) -> None:
        reply = request(self.server.port, "HEAD", "/metrics")
        self.assertEqual((reply.status, reply.body), (200, b""))
        self.assertEqual(reply.headers["content-type"], PROMETHEUS_TYPE)


class TwoWorkersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = start_tinyserve(fixture("sk_skops"), "-w", "2")

    @classmethod
    def tearDownClass(cls) -> None:
        code, output = cls.server.stop()
        assert code == 0, output

    def send(self, count: int) -> None:
        """``count`` predictions and pings, each on a fresh connection (so either worker
        may take it)."""
        for index in range(count):
            if index % 2:
                self.assertEqual(request(self.server.port, "GET", "/ping").status, 200)
            else:
                reply = request(self.server.port, "POST", "/invocations", SPLIT, JSON)
                self.assertEqual(reply.status, 200)

    def assert_totals(self, before: Series, sent: int, reads: int) -> Series:
        """``reads`` scrapes all show ``before`` plus ``sent`` requests and the scrapes."""
        last = before
        for read in range(reads):
            with self.subTest(read=read):
                now = scrape(self.server.port)
                for route, count in (("/invocations", (sent + 1) // 2), ("/ping", sent // 2),
                                     ("/metrics", read + 1)):
                    self.assertEqual(requests_total(now, route, "200")
                                     - requests_total(before, route, "200"), count, route)
                self.assertEqual(value(now, "tinyserve_rows_scored_total")
                                 - value(before, "tinyserve_rows_scored_total"),
                                 2 * ((sent + 1) // 2))
                self.assertEqual(value(now, "tinyserve_requests_in_flight"), 1)
                last = now
        return last

    def test_every_worker_reports_the_total_of_all_workers(self) -> None:
        before = scrape(self.server.port)
        self.send(40)
        after = self.assert_totals(before, 40, reads=8)
        self.assertEqual(value(after, "tinyserve_workers"), 2)

    def test_killing_a_worker_loses_no_counts(self) -> None:
        self.send(10)
        before = scrape(self.server.port)
        workers = children_of(self.server.process.pid)
        self.assertEqual(len(workers), 2)
        os.kill(workers[0], signal.SIGKILL)

        def replaced() -> bool:
            now = children_of(self.server.process.pid)
            return len(now) == 2 and workers[0] not in now

        self.assertTrue(wait_for(replaced))
        after = scrape(self.server.port)
        for (name, labels), count in before.items():
            if name.endswith(("_total", "_bucket", "_count")):
                with self.subTest(series=(name, labels)):
                    self.assertGreaterEqual(after.get((name, labels), 0.0), count)
        self.assertEqual(requests_total(after, "/invocations", "200"),
                         requests_total(before, "/invocations", "200"))
        self.assertEqual(value(after, "tinyserve_worker_restarts_total"),
                         value(before, "tinyserve_worker_restarts_total") + 1)
        self.assertEqual(value(after, "tinyserve_workers"), 2)
        self.send(10)  # and the replaced worker's row counts on from where it was
        self.assert_totals(after, 10, reads=6)


class NoMetricsTest(unittest.TestCase):
    def test_no_metrics_makes_metrics_an_unknown_path(self) -> None:
        server = start_tinyserve(fixture("sk_skops"), "--no-metrics")
        try:
            reply = request(server.port, "GET", "/metrics")
            self.assertEqual((reply.status, reply.body), (404, b'{"detail":"Not Found"}'))
            self.assertEqual(request(server.port, "POST", "/invocations", SPLIT, JSON).status,
                             200)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
