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

The client is one thread with one ``selectors`` loop (little CPU next to the servers); every
answer must be 200 and is counted. The CPU time the server's processes used meanwhile is
printed too (MLServer with one worker is two processes). Servers are stopped by PID. The figure per case is the
median requests/s over the rounds. The machine's CPUs are shared with the client and with
whatever else runs: read the figures as an order of magnitude, and compare within one run.
"""
from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

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


def post(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def answer_end(buf: bytes) -> Optional[int]:
    """Where the first complete response in ``buf`` ends (Content-Length framing), or None."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    length = 0
    for line in buf[:head_end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    end = head_end + 4 + length
    return end if len(buf) >= end else None


def load(port: int, request: bytes, connections: int, seconds: float) -> Dict[str, float]:
    """Keep ``connections`` keep-alive sockets busy for ``seconds``: answers/s and errors."""
    selector = selectors.DefaultSelector()
    buffers: Dict[socket.socket, bytes] = {}
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request)
        sock.setblocking(False)
        buffers[sock] = b""
        selector.register(sock, selectors.EVENT_READ)
    done = errors = 0
    started = time.monotonic()
    deadline = started + seconds
    try:
        while time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                sock = key.fileobj
                data = sock.recv(65536)
                if not data:
                    raise SystemExit("the server closed a connection")
                buf = buffers[sock] + data
                end = answer_end(buf)
                if end is None:
                    buffers[sock] = buf
                    continue
                errors += buf[9:12] != b"200"
                done += 1
                buffers[sock] = buf[end:]
                sock.sendall(request)
    finally:
        for sock in buffers:
            selector.unregister(sock)
            sock.close()
    return {"rps": done / (time.monotonic() - started), "errors": errors}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children (MLServer's worker), from /proc."""
    total = 0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            pids += [int(child) for child in handle.read().split()]
    except OSError:
        pass
    for each in pids:
        try:
            with open(f"/proc/{each}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
                    request = post(path, body)
                    load(server.port, request, args.concurrency, 1.0)  # warm-up
                    before = cpu_seconds(server.pid)
                    result = load(server.port, request, args.concurrency, args.seconds)
                    cpus = (cpu_seconds(server.pid) - before) / args.seconds
                    rates[label].append(result["rps"])
                    print(f"round {number}: {label}: {result['rps']:.0f} req/s, "
                          f"{result['errors']} errors, server busy {cpus:.2f} CPUs "
                          f"({result['rps'] / max(cpus, 0.01):.0f} req per CPU-second)",
                          flush=True)
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
