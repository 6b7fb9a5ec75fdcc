"""tinyserve against ``mlflow models serve``, side by side: the figures of docs/benchmarks.md.

    .venvs/test/bin/python scripts/bench.py                  # 3 rounds, about 15 minutes
    .venvs/test/bin/python scripts/bench.py --rounds 1 --seconds 3     # a quick look

Run it with a Python that has tinyserve's runtime dependencies and scikit-learn (the test venv
of ``scripts/test.sh``). MLflow runs from a venv of its own: ``TINYSERVE_MLFLOW_PYTHON`` when
set, else ``.venvs/bench-mlflow``, created from ``tests/mlflow-requirements.txt`` if missing.
That venv also saves the benchmark models and payloads (``scripts/make_bench_models.py``, into
``.bench/``) and draws the chart (``scripts/bench_chart.py``, matplotlib comes with MLflow).

Each round starts both servers in turn (the order alternates between rounds), one worker
each, on 127.0.0.1, and measures, for the same models and bytes: cold start (spawn to the
first 200 on ``/ping``); 1-row ``dataframe_split`` JSON and CSV at 1, 8 and 64 connections
(``--seconds`` each; requests/s, p99, server CPU per request); 100-row and 10,000-row JSON in
three layouts and CSV, and a 100,000-row CSV (median seconds of sequential requests);
resident memory after that load; and ``tinyserve predict`` against ``mlflow models predict``
on a 1,000,000-row CSV. The table shows medians and the ratio tinyserve / MLflow of each
round; the goals are those of the performance issue. The last line is the summary.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

from bench_load import (cpu_seconds, free_port, median, rss_mib, run_load, timed_posts,
                        wait_for_ping)
from bench_report import goals, print_table, summary_line

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / ".bench"
MLFLOW_VENV = REPO / ".venvs" / "bench-mlflow"
TYPES = {"split": "application/json", "records": "application/json",
         "inputs": "application/json", "csv": "text/csv"}
SYSTEMS = ("tinyserve", "mlflow")
Results = Dict[str, Dict[str, List[float]]]  # metric -> system -> one value per round


# ------------------------------------------------------------------------------ set-up
def mlflow_python() -> Path:
    given = os.environ.get("TINYSERVE_MLFLOW_PYTHON")
    if given:
        return Path(given)
    python = MLFLOW_VENV / "bin" / "python"
    if not python.exists():
        print(f"== creating {MLFLOW_VENV.relative_to(REPO)} (MLflow, for comparison only)")
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r",
                        str(REPO / "tests" / "mlflow-requirements.txt")], check=True)
    return python


def ensure_data(mlflow: Path) -> None:
    if not (DATA / "READY").exists():
        print("== saving the benchmark models and payloads with MLflow")
        subprocess.run([str(mlflow), str(REPO / "scripts" / "make_bench_models.py"), str(DATA)],
                       check=True)


# ------------------------------------------------------------------------------ servers
class Server:
    """One server process (and its children) on a free loopback port, stopped by PID."""

    def __init__(self, system: str, model: str, mlflow: Path) -> None:
        self.port = free_port()
        path = str(DATA / "models" / model)
        if system == "tinyserve":
            argv = [sys.executable, "-m", "tinyserve", "serve", "-m", path]
            env = dict(os.environ)
        else:
            argv = [str(mlflow), "-m", "mlflow", "models", "serve", "-m", path,
                    "--env-manager", "local"]
            # mlflow starts uvicorn by name: its venv's bin must come first on PATH
            env = dict(os.environ, PATH=f"{mlflow.parent}{os.pathsep}{os.environ['PATH']}")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            argv + ["-h", "127.0.0.1", "-p", str(self.port), "-w", "1"], cwd=REPO, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        if not wait_for_ping(self.port, self.started + 120):
            self.stop()
            raise SystemExit(f"{system} did not answer /ping within 120 s")
        self.cold_s = time.monotonic() - self.started

    def stop(self) -> None:
        """SIGTERM to the server's process group (its PID), SIGKILL if it lingers."""
        for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            if self.process.poll() is not None:
                break
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(wait_s)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue


# ------------------------------------------------------------------------------ phases
def payload(name: str, kind: str) -> Path:
    return DATA / "payloads" / f"{name}.{kind}"


def one_row_phase(server: Server, record: Callable[[str, float], None], seconds: float) -> None:
    run_load(server.port, payload("1row", "split"), TYPES["split"], 8, 1.0, DATA)  # warm-up
    for kind in ("split", "csv"):
        for connections in (1, 8, 64):
            before = cpu_seconds(server.process.pid)
            result = run_load(server.port, payload("1row", kind), TYPES[kind], connections,
                              seconds, DATA)
            used = cpu_seconds(server.process.pid) - before
            if result.errors:
                raise SystemExit(f"{result.errors} failed requests: 1row {kind} c{connections}")
            key = f"1row {kind} c{connections}"
            record(f"{key} rps", result.requests / result.seconds)
            record(f"{key} p99 ms", result.p99_ms)
            record(f"{key} cpu ms/req", used * 1000 / max(1, result.requests))


def sequential_phase(server: Server, record: Callable[[str, float], None], name: str,
                     kinds: tuple, count: int) -> None:
    for kind in kinds:
        body = payload(name, kind).read_bytes()
        timed_posts(server.port, body, TYPES[kind], 1, 300)  # warm-up
        record(f"{name} {kind} s", median(timed_posts(server.port, body, TYPES[kind], count,
                                                      300)))


def predict_phase(system: str, mlflow: Path, record: Callable[[str, float], None]) -> None:
    """``tinyserve predict`` / ``mlflow models predict`` on the 1M-row CSV: rows/s, peak RSS."""
    model, source = str(DATA / "models" / "logreg"), str(payload("1mrows", "csv"))
    out = DATA / f"predict-{system}.out"
    if system == "tinyserve":
        argv = [sys.executable, "-m", "tinyserve", "predict", "-q"]
    else:
        argv = [str(mlflow), "-m", "mlflow", "models", "predict", "--env-manager", "local"]
    started = time.monotonic()
    process = subprocess.Popen(argv + ["-m", model, "-i", source, "-o", str(out), "-t", "csv"],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = status
    took = time.monotonic() - started
    if status != 0:
        raise SystemExit(f"{system} predict failed with status {status}")
    record("predict 1M rows/s", 1_000_000 / took)
    record("predict peak MiB", usage.ru_maxrss / 1024)


def run_round(system: str, mlflow: Path, results: Results, seconds: float,
              sizes: Dict[str, int]) -> None:
    def record(metric: str, value: float) -> None:
        results.setdefault(metric, {}).setdefault(system, []).append(value)

    server = Server(system, "logreg", mlflow)
    try:
        record("cold start s", server.cold_s)
        one_row_phase(server, record, seconds)
        record("RSS after 1-row load MiB", rss_mib(server.process.pid))
    finally:
        server.stop()
    server = Server(system, "gbt", mlflow)
    try:
        sequential_phase(server, record, "100rows", tuple(TYPES), sizes["100rows"])
    finally:
        server.stop()
    server = Server(system, "ridge", mlflow)
    try:
        sequential_phase(server, record, "10krows", tuple(TYPES), sizes["10krows"])
        sequential_phase(server, record, "100krows", ("csv",), sizes["100krows"])
        record("RSS after 100k-row load MiB", rss_mib(server.process.pid))
    finally:
        server.stop()
    predict_phase(system, mlflow, record)


# ------------------------------------------------------------------------------ floors
FLOORS = """
import io, json, pickle, statistics, sys, time
data = sys.argv[1]
models = {name: pickle.load(open(f"{data}/models/{name}/model.pkl", "rb"))
          for name in ("logreg", "gbt", "ridge")}
import pandas as pd

def median_s(work, count):
    times = []
    for _ in range(count):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times)

frame = pd.read_csv(f"{data}/payloads/1row.csv")
times = []
for _ in range(300):
    began = time.process_time()
    models["logreg"].predict(frame)
    times.append(time.process_time() - began)
floors = {"predict_ms": statistics.median(times[50:]) * 1000}
for name, model, count in (("100rows", "gbt", 20), ("10krows", "ridge", 5)):
    frame = pd.read_csv(f"{data}/payloads/{name}.csv")
    floors[f"{name} predict s"] = median_s(lambda: models[model].predict(frame), count)
for kind in ("split", "records", "inputs"):
    body = open(f"{data}/payloads/10krows.{kind}", "rb").read()
    floors[f"10krows {kind} json.loads s"] = median_s(lambda: json.loads(body), 3)
body = open(f"{data}/payloads/100krows.csv", "rb").read()
floors["100krows read_csv s"] = median_s(lambda: pd.read_csv(io.BytesIO(body)), 3)
print(json.dumps(floors))
"""


LOAD = """
import pickle, sys, time
started = time.perf_counter()
pickle.load(open(sys.argv[1], "rb"))
print(time.perf_counter() - started)
"""


def model_floors() -> Dict[str, float]:
    """Importing the logreg model's libraries plus unpickling it (median of 3 fresh processes),
    the logreg model's own ``predict`` on a 1-row DataFrame (CPU ms, median), the other models'
    predict on their payloads, ``json.loads`` of the 10,000-row bodies and ``pandas.read_csv``
    of the 100,000-row one (median seconds): what no server can go below."""
    out = subprocess.run([sys.executable, "-c", FLOORS, str(DATA)], stdout=subprocess.PIPE,
                         check=True, timeout=600).stdout
    floors = json.loads(out)
    floors["load_s"] = median([float(subprocess.run(
        [sys.executable, "-c", LOAD, str(DATA / "models" / "logreg" / "model.pkl")],
        stdout=subprocess.PIPE, check=True, timeout=300).stdout) for _ in range(3)])
    return floors


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="per 1-row load run")
    parser.add_argument("--requests", type=int, default=20,
                        help="sequential requests per 100-row payload (fewer for bigger ones)")
    parser.add_argument("--json", default=str(DATA / "results.json"), help="raw results")
    parser.add_argument("--chart", default=str(REPO / "docs" / "benchmarks.png"))
    args = parser.parse_args(argv)
    mlflow = mlflow_python()
    ensure_data(mlflow)
    sizes = {"100rows": args.requests, "10krows": max(3, args.requests // 4),
             "100krows": max(2, args.requests // 10)}
    floors = model_floors()
    results: Results = {}
    for round_index in range(args.rounds):
        order = SYSTEMS if round_index % 2 == 0 else SYSTEMS[::-1]
        for system in order:
            print(f"== round {round_index + 1}/{args.rounds}: {system}", flush=True)
            run_round(system, mlflow, results, args.seconds, sizes)
    Path(args.json).write_text(json.dumps({"results": results, "floors": floors}, indent=1),
                               encoding="utf-8")
    checks = goals(results, floors)
    print_table(results, checks, floors)
    subprocess.run([str(mlflow), str(REPO / "scripts" / "bench_chart.py"), args.json,
                    args.chart], check=True)
    print(summary_line(checks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
