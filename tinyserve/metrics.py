"""Request metrics of the server, recorded cheaply and shared by all worker processes.

Every value is a float64 slot in one fixed table: routes, statuses and latency buckets are
finite, known sets, so the layout is fixed before any worker starts. A lone process keeps the
table in private memory; before ``supervise`` forks, it moves into an anonymous shared ``mmap``
with one row per worker slot. A worker writes only its own row (under its own process's lock)
and ``/metrics``, whichever worker answers it, sums every row. A replaced worker keeps its row,
so counters never go backwards. Labels never hold a raw path or a client's value: the number
of series is bounded. The text rendering is in ``metrics_text``.

``OVERRUNS`` counts this process's predictions answered 504 whose thread runs on (Python
cannot stop a thread); it works with or without metrics, for the in-flight limit. Stdlib only.
"""
from __future__ import annotations

import mmap
import threading
import time
from bisect import bisect_left
from typing import Callable, Dict, List, Optional, Tuple, Union

from tinyserve.metrics_text import Family, format_value, render

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ENABLED_ENV = "TINYSERVE_METRICS"

ROUTES = ("/invocations", "/ping", "/health", "/version", "/live", "/ready", "/metrics", "other")
STATUSES: Tuple[Union[int, str], ...] = (
    200, 204, 301, 302, 304, 307, 400, 401, 403, 404, 405, 408, 409, 411, 413, 414, 415, 429,
    431, 499, 500, 501, 502, 503, 504, "other")
# Upper bounds (seconds) of the latency buckets; a last +Inf bucket follows.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
           60.0)

ROUTE_INDEX: Dict[str, int] = {route: index for index, route in enumerate(ROUTES)}
STATUS_INDEX: Dict[Union[int, str], int] = {status: index for index, status in enumerate(STATUSES)}
OTHER_ROUTE = ROUTE_INDEX["other"]
OTHER_STATUS = STATUS_INDEX["other"]
INVOCATIONS = ROUTE_INDEX["/invocations"]
N_ROUTES, N_STATUSES, N_BUCKETS = len(ROUTES), len(STATUSES), len(BUCKETS) + 1


def _layout(*sizes: Tuple[str, int]) -> Tuple[Dict[str, int], int]:
    """Offsets of consecutive fields of the given sizes, and the total size."""
    offsets, at = {}, 0
    for name, size in sizes:
        offsets[name] = at
        at += size
    return offsets, at


# The header, written by the parent only: values of the whole server.
HEADER, HEADER_SIZE = _layout(("model_load_seconds", 1), ("start_time", 1), ("workers", 1),
                              ("worker_restarts", 1))
# One row per worker slot, written by that worker only.
ROW, ROW_SIZE = _layout(
    ("requests", N_ROUTES * N_STATUSES),  # [route][status]
    ("buckets", N_ROUTES * N_BUCKETS),  # [route][bucket], not cumulative
    ("duration_sum", N_ROUTES),
    ("rows_scored", 1),
    ("prediction_errors", N_STATUSES),
    ("in_flight", 1),
    ("overrunning", 1),
)


class Metrics:
    """The metric table of one server, and the calls that record into it."""

    def __init__(self) -> None:
        self._memory: Union[bytearray, mmap.mmap] = bytearray(8 * (HEADER_SIZE + ROW_SIZE))
        self._values = memoryview(self._memory).cast("d")
        self._rows = 1
        self._base = HEADER_SIZE  # where this process's row starts
        self._lock = threading.Lock()
        self._values[HEADER["start_time"]] = time.time()
        self._values[HEADER["workers"]] = 1

    # -- the request path: one lock, a few index increments -------------------------------------

    def request_started(self) -> None:
        with self._lock:
            self._values[self._base + ROW["in_flight"]] += 1

    def request_finished(self, path: str, method: str, status: int, seconds: float,
                         rows: int = 0, started: bool = True) -> None:
        """Count a request answered with ``status`` after ``seconds`` (``rows`` scored);
        ``started=False`` for one answered without ``request_started`` (outside the app)."""
        route = ROUTE_INDEX.get(path, OTHER_ROUTE)
        code = STATUS_INDEX.get(status, OTHER_STATUS)
        bucket = bisect_left(BUCKETS, seconds)  # the first bound >= seconds: "le" semantics
        values, base = self._values, self._base
        with self._lock:
            if started:
                values[base + ROW["in_flight"]] -= 1
            values[base + ROW["requests"] + route * N_STATUSES + code] += 1
            values[base + ROW["buckets"] + route * N_BUCKETS + bucket] += 1
            values[base + ROW["duration_sum"] + route] += seconds
            if route == INVOCATIONS and method == "POST":
                if status == 200:
                    values[base + ROW["rows_scored"]] += rows
                else:
                    values[base + ROW["prediction_errors"] + code] += 1

    def set_overrunning(self, count: int) -> None:
        with self._lock:
            self._values[self._base + ROW["overrunning"]] = count

    # -- the server's life: load, fork, replace -------------------------------------------------

    def set_model_load_seconds(self, seconds: float) -> None:
        self._values[HEADER["model_load_seconds"]] = seconds

    def share(self, workers: int) -> None:
        """Before forking: move the table into shared memory with one row per worker slot."""
        shared = mmap.mmap(-1, 8 * (HEADER_SIZE + workers * ROW_SIZE))
        values = memoryview(shared).cast("d")
        values[:HEADER_SIZE + ROW_SIZE] = self._values[:HEADER_SIZE + ROW_SIZE]
        self._memory, self._values, self._rows = shared, values, workers

    def claim_row(self, slot: int) -> None:
        """In a forked worker: record into row ``slot`` from now on."""
        self._lock = threading.Lock()  # a lock the parent held at fork time would never open
        self._base = HEADER_SIZE + slot * ROW_SIZE

    def worker_gone(self, slot: int, replaced: bool) -> None:
        """In the parent: a worker died. Its counters stay; its gauges are zeroed (its
        requests and threads are gone with it)."""
        base = HEADER_SIZE + slot * ROW_SIZE
        self._values[base + ROW["in_flight"]] = 0
        self._values[base + ROW["overrunning"]] = 0
        if replaced:
            self._values[HEADER["worker_restarts"]] += 1

    def set_workers(self, count: int) -> None:
        self._values[HEADER["workers"]] = count

    # -- reading ----------------------------------------------------------------------------------

    def totals(self) -> Tuple[List[float], List[float]]:
        """The header, and every row's values summed slot by slot."""
        values = self._values
        rows = [values[start:start + ROW_SIZE].tolist()
                for start in range(HEADER_SIZE, HEADER_SIZE + self._rows * ROW_SIZE, ROW_SIZE)]
        return values[:HEADER_SIZE].tolist(), [sum(column) for column in zip(*rows)]

    def render(self) -> bytes:
        """The exposition text (format 0.0.4) of the whole server."""
        header, row = self.totals()
        return render(families(header, row))


def families(header: List[float], row: List[float]) -> List[Family]:
    """The metric families, from the header and the summed rows (zero labelled series are left
    out: a series appears once it has happened)."""
    from tinyserve import __version__

    def at(field: str, index: int = 0) -> float:
        return row[ROW[field] + index]

    requests, errors, histogram = [], [], []
    for r, route in enumerate(ROUTES):
        for s, status in enumerate(STATUSES):
            if at("requests", r * N_STATUSES + s):
                requests.append(("", {"route": route, "status": str(status)},
                                 at("requests", r * N_STATUSES + s)))
        counts = [at("buckets", r * N_BUCKETS + b) for b in range(N_BUCKETS)]
        if any(counts):
            cumulative = 0.0
            for bound, count in zip(BUCKETS + (float("inf"),), counts):
                cumulative += count
                histogram.append(("_bucket", {"route": route, "le": format_value(bound)},
                                  cumulative))
            histogram.append(("_sum", {"route": route}, at("duration_sum", r)))
            histogram.append(("_count", {"route": route}, cumulative))
    for s, status in enumerate(STATUSES):
        if at("prediction_errors", s):
            errors.append(("", {"status": str(status)}, at("prediction_errors", s)))
    return [
        Family("tinyserve_requests_total", "counter",
               "HTTP requests answered, by route (a known path or other) and status.", requests),
        Family("tinyserve_request_duration_seconds", "histogram",
               "Time from receiving a request to having its answer, by route.", histogram),
        Family("tinyserve_rows_scored_total", "counter",
               "Rows given to the model by successful /invocations requests.",
               [("", {}, at("rows_scored"))]),
        Family("tinyserve_prediction_errors_total", "counter",
               "POST /invocations requests that did not end 200, by status.", errors),
        Family("tinyserve_requests_in_flight", "gauge",
               "Requests being handled now, summed over the workers.",
               [("", {}, at("in_flight"))]),
        Family("tinyserve_predictions_overrunning", "gauge",
               "Predictions answered 504 whose thread is still running.",
               [("", {}, at("overrunning"))]),
        Family("tinyserve_model_load_seconds", "gauge",
               "Seconds taken to load the model and run its warm-up prediction.",
               [("", {}, header[HEADER["model_load_seconds"]])]),
        Family("tinyserve_workers", "gauge", "Worker processes serving now.",
               [("", {}, header[HEADER["workers"]])]),
        Family("tinyserve_worker_restarts_total", "counter",
               "Workers that died and were replaced.",
               [("", {}, header[HEADER["worker_restarts"]])]),
        Family("tinyserve_start_time_seconds", "gauge",
               "Unix time the server started loading its model.",
               [("", {}, header[HEADER["start_time"]])]),
        Family("tinyserve_build_info", "gauge", "The tinyserve version; the value is always 1.",
               [("", {"version": __version__}, 1.0)]),
    ]


def enabled(flag: Optional[bool], environ: Dict[str, str]) -> bool:
    """``flag`` when given, else the ``TINYSERVE_METRICS`` variable; on unless it says off."""
    if flag is not None:
        return flag
    return environ.get(ENABLED_ENV, "").strip().lower() not in ("0", "false", "no", "off")


class Overruns:
    """How many predictions of this process were answered 504 and still run in their thread.

    Python cannot stop a thread, so such a prediction goes on using a thread and CPU until it
    ends on its own: the in-flight limit counts it, and ``/metrics`` shows it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self.listener: Optional[Callable[[int], None]] = None  # told every new count

    def count(self) -> int:
        return self._count

    def started(self) -> None:
        self._change(+1)

    def ended(self) -> None:
        self._change(-1)

    def _change(self, step: int) -> None:
        with self._lock:
            self._count += step
            listener = self.listener
            if listener is not None:
                listener(self._count)


OVERRUNS = Overruns()


def overrunning_predictions() -> int:
    """This process's predictions answered 504 whose thread has not finished yet."""
    return OVERRUNS.count()
