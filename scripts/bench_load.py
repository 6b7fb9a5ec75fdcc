"""Load generators and process measurements for ``scripts/bench.py``.

Two generators give the same figures (requests, non-200 answers, p50 and p99 latency):
``wrk`` when it is installed (a C client that costs the server's machine little CPU), else a
stdlib client in a process of its own (``python scripts/bench_load.py --client ...``): one
``selectors`` loop over keep-alive sockets, pre-built request bytes, latencies kept in a list.
Both are closed-loop: each connection sends its next request when the answer came. Every
run is bounded by its duration, and the stdlib client also by a request count.

Server processes are measured from ``/proc``: CPU time (user + system) and resident memory
summed over the process and its descendants, since ``mlflow models serve`` runs uvicorn as a
child process.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import List, NamedTuple, Optional

MAX_CLIENT_REQUESTS = 2_000_000  # the stdlib client's hard bound, whatever the duration
LUA = """local f = io.open(os.getenv("BENCH_BODY"), "rb"); wrk.body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.headers["Content-Type"] = os.getenv("BENCH_TYPE")
"""


class LoadResult(NamedTuple):
    requests: int
    errors: int  # answers other than 200, and socket errors
    seconds: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------------------ processes
def process_tree(pid: int) -> List[int]:
    """``pid`` and all its descendants still alive."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    pending.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by ``pid`` and its descendants."""
    ticks = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, MiB."""
    total_kib = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/status") as status:
                total_kib += next(int(line.split()[1]) for line in status
                                  if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return total_kib / 1024


def wait_for_ping(port: int, deadline: float) -> bool:
    """Poll ``GET /ping`` until it answers 200 (True) or ``deadline`` passes (False)."""
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.02)
    return False


def timed_posts(port: int, body: bytes, content_type: str, count: int,
                deadline_s: float) -> List[float]:
    """Seconds per request for ``count`` sequential POSTs on one keep-alive connection (fewer
    if ``deadline_s`` passes); any answer but 200 stops the benchmark."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=deadline_s)
    times: List[float] = []
    stop_at = time.monotonic() + deadline_s
    try:
        while len(times) < count and time.monotonic() < stop_at:
            started = time.perf_counter()
            connection.request("POST", "/invocations", body, {"Content-Type": content_type})
            response = connection.getresponse()
            answer = response.read()
            times.append(time.perf_counter() - started)
            if response.status != 200:
                raise SystemExit(f"HTTP {response.status} from port {port}: {answer[:300]!r}")
    finally:
        connection.close()
    return times


# ------------------------------------------------------------------------------ generators
def run_load(port: int, body_path: Path, content_type: str, connections: int,
             seconds: float, work_dir: Path) -> LoadResult:
    """Keep ``connections`` connections busy for ``seconds`` with the same POST."""
    if shutil.which("wrk"):
        return run_wrk(port, body_path, content_type, connections, seconds, work_dir)
    out = subprocess.run(
        [sys.executable, __file__, "--client", str(port), str(body_path), content_type,
         str(connections), str(seconds)],
        stdout=subprocess.PIPE, check=True, timeout=seconds + 60).stdout
    return LoadResult(**json.loads(out))


def run_wrk(port: int, body_path: Path, content_type: str, connections: int, seconds: float,
            work_dir: Path) -> LoadResult:
    script = work_dir / "post.lua"
    script.write_text(LUA, encoding="utf-8")
    env = dict(os.environ, BENCH_BODY=str(body_path), BENCH_TYPE=content_type)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/invocations"],
        stdout=subprocess.PIPE, env=env, check=True, timeout=seconds + 60, text=True).stdout
    requests, took, unit = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).groups()
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return LoadResult(int(requests), errors, to_seconds(float(took), unit),
                      wrk_percentile(out, "50%"), wrk_percentile(out, "99%"))


def to_seconds(value: float, unit: str) -> float:
    return value * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def wrk_percentile(out: str, label: str) -> float:
    value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(\w+)", out, re.MULTILINE).groups()
    return to_seconds(float(value), unit) * 1000


def stdlib_client(port: int, body: bytes, content_type: str, connections: int,
                  seconds: float, path: str = "/invocations") -> LoadResult:
    """The fallback generator: one selectors loop, ``connections`` keep-alive sockets."""
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}"
               f"\r\nContent-Length: {len(body)}\r\n\r\n").encode("latin-1") + body
    selector = selectors.DefaultSelector()
    state = {}
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        state[sock] = [b"", time.perf_counter()]
        sock.sendall(request)
    latencies: List[float] = []
    errors = 0
    started = time.perf_counter()
    stop_at = started + seconds
    while time.perf_counter() < stop_at and len(latencies) < MAX_CLIENT_REQUESTS:
        for key, _ in selector.select(timeout=0.2):
            sock = key.fileobj
            data = sock.recv(1 << 20)
            if not data:
                raise SystemExit("the server closed a connection")
            buffer = state[sock][0] + data
            head_end = buffer.find(b"\r\n\r\n")
            length = content_length(buffer, head_end)
            if length is None or len(buffer) < head_end + 4 + length:
                state[sock][0] = buffer
                continue
            now = time.perf_counter()
            latencies.append(now - state[sock][1])
            errors += buffer[9:12] != b"200"
            state[sock] = [buffer[head_end + 4 + length:], now]
            sock.sendall(request)
    took = time.perf_counter() - started
    for sock in state:
        sock.close()
    latencies.sort()
    return LoadResult(len(latencies), errors, took, percentile(latencies, 0.50) * 1000,
                      percentile(latencies, 0.99) * 1000)


def content_length(buffer: bytes, head_end: int) -> Optional[int]:
    if head_end < 0:
        return None
    match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", buffer[:head_end])
    return int(match.group(1)) if match else 0


def percentile(ordered: List[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def median(values: List[float]) -> float:
    return statistics.median(values) if values else float("nan")


if __name__ == "__main__" and sys.argv[1:2] == ["--client"]:
    port_text, path, kind, conns, secs = sys.argv[2:7]
    result = stdlib_client(int(port_text), Path(path).read_bytes(), kind, int(conns),
                           float(secs))
    print(json.dumps(result._asdict()))
