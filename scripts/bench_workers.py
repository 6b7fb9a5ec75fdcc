"""Benchmark ``tinyserve serve``: requests/s with 1 worker against 2, and worker memory.

    python scripts/bench_workers.py                       # 3 rounds of 8 s per worker count
    python scripts/bench_workers.py --rounds 5 --seconds 10 --pin   # one CPU per worker

For each round and each worker count (1, then 2) a server for examples/iris-model starts on
127.0.0.1, gets a short warm-up, then ``--clients`` client processes each keep
``--connections`` keep-alive raw sockets busy for ``--seconds`` with the same pre-built
1-row JSON request; the client only finds Content-Length and counts the answers (any status
other than 200 is counted as an error). The server is stopped by its PID. The figure is the
median requests/s over the rounds, and the ratio is 2 workers over 1.

The load generator shares the machine's CPUs with the server; the CPU time it, the server
and the whole machine used is printed for each run, so the ratio can be read against the
CPUs the server actually got. ``--pin`` puts each serving process on a CPU of its own: a
single worker's threads then no longer hand the GIL from core to core, which on this machine
makes one worker several times faster under many concurrent connections (see the README).

Memory: after the 2-worker load, VmRSS and (when /proc/<pid>/smaps_rollup is readable) PSS and
USS of the parent and each worker, against one process that loads the model on its own (what
each worker would cost if it loaded the model itself instead of inheriting it at fork).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "examples" / "iris-model"
ROW = (b'{"dataframe_split": {"columns": ["sepal_length", "sepal_width", "petal_length", '
       b'"petal_width"], "data": [[5.1, 3.5, 1.4, 0.2]]}}')
REQUEST = (b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(ROW)) + ROW


# ------------------------------------------------------------------------------ client process
def client(port: int, connections: int, seconds: float) -> Dict[str, int]:
    """Keep ``connections`` sockets busy for ``seconds``; count answers and errors."""
    selector = selectors.DefaultSelector()
    buffers: Dict[socket.socket, bytes] = {}
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(REQUEST)
        sock.setblocking(False)
        buffers[sock] = b""
        selector.register(sock, selectors.EVENT_READ)
    done = errors = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                raise SystemExit("the server closed a connection")
            buf = buffers[sock] + data
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                buffers[sock] = buf
                continue
            at = buf.find(b"Content-Length: ", 0, head_end) + 16
            length = int(buf[at:buf.find(b"\r\n", at)])
            if len(buf) < head_end + 4 + length:
                buffers[sock] = buf
                continue
            if buf[9:12] != b"200":
                errors += 1
            done += 1
            buffers[sock] = buf[head_end + 4 + length:]
            sock.send(REQUEST)
    return {"done": done, "errors": errors}


# ------------------------------------------------------------------------------ server control
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(workers: int, threads: int) -> subprocess.Popen:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tinyserve", "serve", "-m", str(MODEL), "-h", "127.0.0.1",
         "-p", str(port), "-w", str(workers), "--threads", str(threads)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server.port = port  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    time.sleep(0.3)  # every worker forked and listening
                    return server
        except OSError:
            time.sleep(0.1)
    stop_server(server)
    raise SystemExit("the server did not answer /ping within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, signal.SIGKILL)
            server.wait(10)


def cpu_seconds(pids: List[int]) -> float:
    """User + system CPU time used so far by ``pids`` (from /proc/<pid>/stat)."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy() -> List[int]:
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    return [sum(fields) - fields[3] - fields[4], sum(fields)]  # busy, total (idle+iowait out)


def run_clients(port: int, clients: int, connections: int, seconds: float,
                server_pids: Sequence[int] = ()) -> Dict[str, float]:
    """Requests/s, and CPUs used meanwhile by the server, the clients and the whole machine."""
    server_before, busy_before = cpu_seconds(list(server_pids)), machine_busy()
    clients_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [subprocess.Popen([sys.executable, __file__, "--client", str(port),
                               str(connections), str(seconds)], stdout=subprocess.PIPE)
             for _ in range(clients)]
    results = [json.loads(proc.communicate(timeout=seconds + 60)[0]) for proc in procs]
    clients_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_after, busy_after = cpu_seconds(list(server_pids)), machine_busy()
    client_cpu = (clients_after.ru_utime + clients_after.ru_stime
                  - clients_before.ru_utime - clients_before.ru_stime)
    done = sum(result["done"] for result in results)
    return {"rps": done / seconds, "errors": sum(result["errors"] for result in results),
            "server_cpus": (server_after - server_before) / seconds,
            "client_cpus": client_cpu / seconds,
            "machine_cpus": (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1])
            * (os.cpu_count() or 1)}


# ------------------------------------------------------------------------------ memory
def memory_kib(pid: int) -> Dict[str, int]:
    figures: Dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                figures["rss"] = int(line.split()[1])
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            fields = {line.split(":")[0]: int(line.split()[1]) for line in rollup
                      if line.split(":")[0] in ("Pss", "Private_Clean", "Private_Dirty")}
        figures["pss"] = fields["Pss"]
        figures["uss"] = fields["Private_Clean"] + fields["Private_Dirty"]
    except (OSError, KeyError, ValueError):
        pass
    return figures


def children_of(pid: int) -> List[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(child) for child in handle.read().split()]


LOAD_ALONE = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, os.path.join(sys.argv[1], "scripts"))
from tinyserve.wsgi import create_app
from bench_workers import memory_kib
create_app(sys.argv[2], timeout=60)
print(json.dumps(memory_kib(os.getpid())))
"""


def loaded_alone_kib() -> Dict[str, int]:
    """Memory of a process that imports tinyserve and loads the model by itself: what each
    worker would hold if it loaded the model after the fork instead of inheriting it."""
    out = subprocess.run([sys.executable, "-c", LOAD_ALONE, str(REPO), str(MODEL)],
                         capture_output=True, check=True, timeout=120).stdout
    return json.loads(out.decode().strip().splitlines()[-1])


# ------------------------------------------------------------------------------ main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured time per run")
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--connections", type=int, default=32, help="per client process")
    parser.add_argument("--threads", type=int, default=8, help="server threads per worker")
    parser.add_argument("--pin", action="store_true",
                        help="pin each serving process to one CPU (sched_setaffinity): one "
                             "process's threads then stop handing the GIL across cores")
    args = parser.parse_args()
    rates: Dict[int, List[float]] = {1: [], 2: []}
    memory: Dict[str, Dict[str, int]] = {}
    for number in range(1, args.rounds + 1):
        for workers in (1, 2):
            server = start_server(workers, args.threads)
            try:
                pids = [server.pid] + (children_of(server.pid) if workers > 1 else [])
                if args.pin:  # each serving process on a CPU of its own
                    for cpu, pid in enumerate(pids[1:] if workers > 1 else pids):
                        os.sched_setaffinity(pid, {cpu % (os.cpu_count() or 1)})
                run_clients(server.port, 1, 4, 1.0)  # warm-up
                result = run_clients(server.port, args.clients, args.connections, args.seconds,
                                     pids)
                if workers == 2 and number == args.rounds:
                    memory["parent"] = memory_kib(server.pid)
                    for index, child in enumerate(children_of(server.pid)):
                        memory[f"worker {index + 1}"] = memory_kib(child)
            finally:
                stop_server(server)
            rates[workers].append(result["rps"])
            print(f"round {number}: {workers} worker(s): {result['rps']:.0f} req/s, "
                  f"{result['errors']} errors; CPUs busy: server {result['server_cpus']:.2f}, "
                  f"clients {result['client_cpus']:.2f}, whole machine "
                  f"{result['machine_cpus']:.2f} of {os.cpu_count()}", flush=True)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"median: 1 worker {one:.0f} req/s, 2 workers {two:.0f} req/s, ratio {two / one:.2f}"
          f" (load generator: {args.clients} processes x {args.connections} connections, "
          f"on the same {os.cpu_count()} CPUs)")
    memory["one process loading the model alone"] = loaded_alone_kib()
    print("memory (KiB; the server's after the last 2-worker load):")
    for name, figures in memory.items():
        print(f"  {name}: " + ", ".join(f"{key.upper()} {value}"
                                         for key, value in figures.items()))
    alone = memory["one process loading the model alone"]
    if "uss" in alone and "uss" in memory.get("worker 1", {}):
        print(f"each forked worker holds {memory['worker 1']['uss']} KiB of its own (USS); "
              f"a worker that loaded the model itself would hold about {alone['uss']} KiB of "
              "its own, as the process loading it alone does")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--client":
        print(json.dumps(client(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))))
        sys.exit(0)
    sys.exit(main())
