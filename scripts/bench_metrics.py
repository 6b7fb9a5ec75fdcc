"""What recording metrics costs: requests/s of 1-row JSON ``/invocations`` with and without
``--no-metrics``.

    python scripts/bench_metrics.py                      # 3 rounds of each, 1 worker
    python scripts/bench_metrics.py --rounds 5 --requests 5000 --clients 2 --workers 2

Each round starts ``python -m tinyserve serve`` on the example iris model (metrics on, then
off, alternating so drift in machine load hits both alike), warms it up, then ``--clients``
client processes each send ``--requests`` requests on one keep-alive connection; every answer
must be 200. A round stops at ``--max-seconds`` whatever happened. It also times, in-process,
the recording calls alone and the whole WSGI app with metrics on and off (best of interleaved
repeats, no HTTP). Figures on a shared machine are noisy: compare medians and the in-process
figures.
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MODEL = REPO / "examples" / "iris-model"
BODY = (b'{"dataframe_split": {"columns": ["sepal_length", "sepal_width", "petal_length", '
        b'"petal_width"], "data": [[5.1, 3.5, 1.4, 0.2]]}}')
HEADERS = {"Content-Type": "application/json"}


def client(port: int, count: int, deadline: float, results: "multiprocessing.Queue") -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    done = failed = 0
    while done < count and time.monotonic() < deadline:
        conn.request("POST", "/invocations", BODY, HEADERS)
        reply = conn.getresponse()
        reply.read()
        done += 1
        failed += reply.status != 200
    conn.close()
    results.put((done, failed))


def wait_ready(port: int, process: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start in time")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_round(metrics: bool, args: argparse.Namespace) -> float:
    """Requests/s of one server run; exits on any non-200 answer."""
    port = free_port()
    flags = [] if metrics else ["--no-metrics"]
    server = subprocess.Popen(
        [sys.executable, "-m", "tinyserve", "serve", "-m", str(MODEL), "-p", str(port),
         "-w", str(args.workers), *flags], cwd=REPO, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + args.max_seconds
        wait_ready(port, server, deadline)
        queue: "multiprocessing.Queue" = multiprocessing.Queue()
        client(port, 200, deadline, queue)  # warm-up
        queue.get()
        clients = [multiprocessing.Process(target=client,
                                           args=(port, args.requests, deadline, queue))
                   for _ in range(args.clients)]
        started = time.perf_counter()
        for process in clients:
            process.start()
        outcomes = [queue.get(timeout=args.max_seconds + 30) for _ in clients]
        seconds = time.perf_counter() - started
        for process in clients:
            process.join()
        done, failed = sum(o[0] for o in outcomes), sum(o[1] for o in outcomes)
        if failed:
            raise SystemExit(f"{failed} of {done} requests did not get 200")
        return done / seconds
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(30)


def record_cost() -> float:
    """Microseconds per request of the two recording calls, in-process."""
    from tinyserve.metrics import Metrics

    metrics = Metrics()

    def record() -> None:
        metrics.request_started()
        metrics.request_finished("/invocations", "POST", 200, 0.003, 1)

    loops = 200_000
    return min(timeit.repeat(record, number=loops, repeat=3)) / loops * 1e6


def app_cost(loops: int = 2000) -> tuple:
    """Microseconds per 1-row request through the whole WSGI app, in-process (no HTTP), with
    metrics on and off; the best of interleaved repeats, so load elsewhere matters less."""
    import io
    import logging

    from tinyserve.wsgi import create_app

    logging.getLogger("tinyserve").setLevel(logging.ERROR)
    apps = {True: create_app(str(MODEL), metrics=True), False: create_app(str(MODEL),
                                                                           metrics=False)}

    def run(app) -> None:
        for _ in range(loops):
            environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/invocations",
                       "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(BODY)),
                       "wsgi.input": io.BytesIO(BODY)}
            app(environ, lambda status, headers: None)

    best = {True: float("inf"), False: float("inf")}
    for _ in range(5):
        for metrics, app in apps.items():
            best[metrics] = min(best[metrics], timeit.timeit(lambda: run(app), number=1))
    return best[True] / loops * 1e6, best[False] / loops * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000, help="per client, per round")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per round")
    args = parser.parse_args()
    rates = {True: [], False: []}
    for _ in range(args.rounds):
        for metrics in (True, False):
            rates[metrics].append(one_round(metrics, args))
            print(f"metrics {'on ' if metrics else 'off'}: {rates[metrics][-1]:8.0f} req/s",
                  flush=True)
    if args.rounds > 0:
        on, off = statistics.median(rates[True]), statistics.median(rates[False])
        print(f"median: on {on:.0f} req/s, off {off:.0f} req/s ({(on / off - 1) * 100:+.1f}%)")
    print(f"recording alone: {record_cost():.2f} us per request (in-process)")
    on_us, off_us = app_cost()
    print(f"whole app in-process: on {on_us:.0f} us, off {off_us:.0f} us per request "
          f"({(on_us / off_us - 1) * 100:+.1f}%)")


if __name__ == "__main__":
    main()
