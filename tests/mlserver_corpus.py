"""The compatibility corpus sent to tinyserve's own server and to MLServer with tinyserve's
runtime, one pair of servers per (model, server variant), answers compared.

The cases are the corpus's ``/invocations`` requests (its query-string and trailing-slash
spellings included) and its GET ``/ping``, ``/health`` and ``/version``. Both answers must have
the same form (status, content type, ``allow``/``location``, error or JSON or text body; see
``tests.compat.compare``) and both must carry an ``X-Request-ID``. MLServer runs with
``-w 0``: its worker processes are covered by ``tests/test_mlserver_engine.py``.
"""
from __future__ import annotations

import sys
import time
from collections import deque
from typing import Callable, Deque, List, NamedTuple, Optional, Sequence, Tuple

from tests.compat.compare import form_difference, form_of
from tests.compat.corpus import SERVER_VARIANTS, Case, build_corpus, groups, runnable
from tests.compat.harness import Server, send
from tests.mlserver_support import MLSERVER_PYTHON
from tests.support import REPO, child_env, fixture, free_port

HEALTH_PATHS = ("/ping", "/health", "/version")
READY_TIMEOUT = 120.0  # two servers at once on a 2-CPU machine


def engine_cases() -> Tuple[List[Case], dict]:
    """The corpus cases both engines must answer alike, and the models skipped here."""
    cases, skipped = runnable(build_corpus())
    chosen = [case for case in cases
              if case.path.split("?")[0].rstrip("/") == "/invocations"
              or (case.method == "GET" and case.path in HEALTH_PATHS)]
    return chosen, skipped


class Judged(NamedTuple):
    case: Case
    problem: Optional[str]
    tinyserve: dict
    mlserver: dict


class EnginePair:
    """tinyserve's server (this Python) and MLServer (the MLServer venv) for one group."""

    def __init__(self, model: str, variant: str) -> None:
        flags, env = SERVER_VARIANTS[variant]
        self.model, self.variant = model, variant
        tiny = [sys.executable, "-m", "tinyserve", "serve", "-m", fixture(model), "-p", "{port}",
                *flags]
        engine = [str(MLSERVER_PYTHON), "-m", "tinyserve", "serve", "-m", fixture(model),
                  "-p", "{port}", "--enable-mlserver", "-w", "0", "--no-metrics",
                  "--grpc-port", str(free_port()), *flags]
        self.tinyserve = Server(f"tinyserve[{model}]", tiny, child_env(env), REPO)
        self.mlserver = Server(f"mlserver[{model}]", engine, child_env(env), REPO)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        for server in (self.tinyserve, self.mlserver):
            server.wait_ready(deadline)  # /ping: MLServer answers 503 until the model loaded

    def stop(self) -> None:
        for server in (self.tinyserve, self.mlserver):
            server.stop()

    def judge(self, case: Case) -> Judged:
        mine = send(self.tinyserve, case)
        theirs = send(self.mlserver, case)
        expected = form_of(mine, self.tinyserve.port)
        found = form_of(theirs, self.mlserver.port)
        problem = form_difference(expected, found)
        if problem is None and mine.status == 0:
            problem = "no answer"
        if problem is None and not ("x-request-id" in mine.headers
                                    and "x-request-id" in theirs.headers):
            problem = "x-request-id missing"
        return Judged(case, problem, expected, found)


def compare_engines(cases: Sequence[Case], ahead: int = 1,
                    progress: Callable[[str], None] = lambda line: None) -> List[Judged]:
    """Every case to both engines; the next pair starts while the current one answers."""
    todo = deque(groups(cases))
    started: Deque[Tuple[EnginePair, List[Case]]] = deque()
    judged: List[Judged] = []
    try:
        while todo or started:
            while todo and len(started) <= ahead:
                (model, variant), group = todo.popleft()
                started.append((EnginePair(model, variant), group))
            pair, group = started.popleft()
            began = time.monotonic()
            try:
                pair.wait_ready()
                results = [pair.judge(case) for case in group]
            finally:
                pair.stop()
            judged += results
            agreed = sum(result.problem is None for result in results)
            progress(f"{pair.model} [{pair.variant}]: {agreed}/{len(results)} agree "
                     f"({time.monotonic() - began:.1f} s)")
    finally:
        for pair, _ in started:
            pair.stop()
    return judged


def report(judged: Sequence[Judged]) -> str:
    bad = [result for result in judged if result.problem]
    lines = [f"agreement: {len(judged) - len(bad)}/{len(judged)}"]
    for result in bad:
        lines += [f"- {result.case.id} ({result.case.model}): {result.problem}",
                  f"    tinyserve: {str(result.tinyserve)[:400]}",
                  f"    mlserver:  {str(result.mlserver)[:400]}"]
    return "\n".join(lines)


