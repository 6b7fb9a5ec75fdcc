"""Benchmark the two engines: requests/s of ``tinyserve serve`` against ``--enable-mlserver``.

    .venvs/mlserver/bin/python scripts/bench_mlserver.py            # 3 rounds of 8 s each
    .venvs/mlserver/bin/python scripts/bench_mlserver.py --rounds 5 --seconds 10

Run it with a Python that has tinyserve[mlserver] (both servers then use the same libraries).
Each round starts, one after the other on 127.0.0.1: tinyserve's own server with one worker,
then MLServer with tinyserve's runtime and one parallel worker (``-w 1``, metrics off), and
measures, after a 1 s warm-up, ``--concurrency`` keep-alive connections each sending the next
request as soon as the answer came:

- ``/invocations`` with a 1-row ``dataframe_split`` JSON body (examples/iris-model), both
  engines;
- V2 REST ``/v2/models/iris/infer`` with the same row as four FP64 tensors, MLServer only:
  without, then (another server) with adaptive batching (at most 8 requests, 5 ms).

The client is ``scripts/bench_load.py``'s: one thread with one ``selectors`` loop (little CPU
next to the servers); answers other than 200 are counted as errors. The CPU time the server's processes used meanwhile is
printed too (MLServer with one worker is two processes). Servers are stopped by PID. The figure per case is the
median requests/s over the rounds. The machine's CPUs are shared with the client and with
whatever else runs: read the figures as an order of magnitude, and compare within one run.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

from bench_load import cpu_seconds, free_port
from bench_load import stdlib_client as load

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "examples" / "iris-model"
NAME = "iris"
ROW = [5.1, 3.5, 1.4, 0.2]
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
INVOCATIONS = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [ROW]}}).encode()
V2 = json.dumps({"inputs": [{"name": name, "shape": [1, 1], "datatype": "FP64",
                             "data": [value]} for name, value in zip(COLUMNS, ROW)]}).encode()
READY_TIMEOUT = 90.0
BATCH_SIZE, BATCH_TIME = 8, 0.005  # --max-batch-size, --max-batch-time (seconds)
JSON = "application/json"


def start(python: str, engine: str) -> subprocess.Popen:
    port = free_port()
    argv = [python, "-m", "tinyserve", "serve", "-m", str(MODEL), "-h", "127.0.0.1",
            "-p", str(port), "-w", "1"]
    if engine.startswith("mlserver"):
        argv += ["--enable-mlserver", "--grpc-port", str(free_port()), "--no-metrics",
                 "--model-name", NAME]
    if engine == "mlserver-batching":
        argv += ["--max-batch-size", str(BATCH_SIZE), "--max-batch-time", str(BATCH_TIME)]
    server = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    server.port = port  # type: ignore[attr-defined]
    ready = (b"GET /v2/models/%s/ready" % NAME.encode() if engine.startswith("mlserver")
             else b"GET /ping")
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the {engine} server exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(ready + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return server
        except OSError:
            pass
        time.sleep(0.2)
    stop(server)
    raise SystemExit(f"the {engine} server was not ready within {READY_TIMEOUT:.0f} s")


def stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's PID; its group (MLServer's worker) is killed if it hangs."""
    if server.poll() is None:
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)


CASES = [  # (label, engine, path, body)
    ("tinyserve /invocations", "tinyserve", "/invocations", INVOCATIONS),
    ("mlserver  /invocations", "mlserver", "/invocations", INVOCATIONS),
    ("mlserver  V2 infer", "mlserver", f"/v2/models/{NAME}/infer", V2),
    ("mlserver  V2 infer, adaptive batching", "mlserver-batching", f"/v2/models/{NAME}/infer",
     V2),
]
ENGINES = ("tinyserve", "mlserver", "mlserver-batching")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured time per case")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--python", default=sys.executable,
                        help="the Python that runs both servers (default: this one)")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 20 or not 0 < args.seconds <= 60:
        parser.error("keep it bounded: 1-20 rounds of at most 60 s")
    rates: Dict[str, List[float]] = {label: [] for label, *_ in CASES}
    for number in range(1, args.rounds + 1):
        for engine in ENGINES:
            server = start(args.python, engine)
            try:
                for label, case_engine, path, body in CASES:
                    if case_engine != engine:
                        continue
                    load(server.port, body, JSON, args.concurrency, 1.0, path)  # warm-up
                    before = cpu_seconds(server.pid)
                    result = load(server.port, body, JSON, args.concurrency, args.seconds, path)
                    cpus = (cpu_seconds(server.pid) - before) / args.seconds
                    rps = result.requests / result.seconds
                    rates[label].append(rps)
                    print(f"round {number}: {label}: {rps:.0f} req/s, "
                          f"{result.errors} errors, server busy {cpus:.2f} CPUs "
                          f"({rps / max(cpus, 0.01):.0f} req per CPU-second)", flush=True)
            finally:
                stop(server)
    print(f"median of {args.rounds} rounds ({args.concurrency} connections, "
          f"{args.seconds:.0f} s each, one worker per engine, {os.cpu_count()} CPUs shared "
          "with the client):")
    for label, values in rates.items():
        print(f"  {label}: {statistics.median(values):.0f} req/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
