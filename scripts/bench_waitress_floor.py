"""What waitress alone costs per request: the floor under any waitress-based server's figures.

    .venvs/test/bin/python scripts/bench_waitress_floor.py                  # 0 and 1 ms handlers
    .venvs/test/bin/python scripts/bench_waitress_floor.py --busy-ms 0,2 --connections 64

Starts a trivial WSGI app on waitress (127.0.0.1, 8 threads like ``tinyserve serve``) that reads
the body and answers a fixed 2-byte JSON body, after burning ``--busy-ms`` of CPU in Python
(a stand-in for a model that holds the GIL). The load is the 1-row JSON body of
``scripts/bench.py`` from ``wrk`` or the stdlib client. Printed per handler: requests/s, p99,
and the server's CPU per request, from which the handler's own time is to be subtracted.
The server is stopped by its PID.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_load import cpu_seconds, free_port, run_load, wait_for_ping

APP = """
import logging, sys, time, waitress
logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # as tinyserve does
busy_s = float(sys.argv[2]) / 1000
def app(environ, start_response):
    environ["wsgi.input"].read()
    stop = time.thread_time() + busy_s
    while time.thread_time() < stop:
        pass
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]
waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=8, _quiet=True)
"""
BODY = (b'{"dataframe_split": {"columns": ["x0", "x1", "x2", "x3"], '
        b'"data": [[0.1, -0.2, 0.3, 1.5]]}}')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--busy-ms", default="0,1", help="CPU ms burnt per request, a list")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tinyserve-floor-"))
    body_path = work / "body.json"
    body_path.write_bytes(BODY)
    for busy_ms in (float(value) for value in args.busy_ms.split(",")):
        port = free_port()
        server = subprocess.Popen([sys.executable, "-c", APP, str(port), str(busy_ms)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not wait_for_ping(port, time.monotonic() + 30):
                raise SystemExit("the waitress app did not start")
            before = cpu_seconds(server.pid)
            result = run_load(port, body_path, "application/json", args.connections,
                              args.seconds, work)
            used_ms = (cpu_seconds(server.pid) - before) * 1000 / max(1, result.requests)
        finally:
            os.kill(server.pid, signal.SIGTERM)
            server.wait(10)
        print(f"handler burning {busy_ms:g} ms: {result.requests / result.seconds:.0f} "
              f"requests/s, p99 {result.p99_ms:.1f} ms, server CPU {used_ms:.3f} ms/request, "
              f"waitress's share {used_ms - busy_ms:.3f} ms ({args.connections} connections)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
