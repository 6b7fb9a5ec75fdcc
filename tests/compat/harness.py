"""Start `mlflow models serve` and tinyserve per model, send every case to both, compare.

One pair of servers per (model, server variant); the next pairs start while the current one is
answering, because MLflow needs many seconds to start. Within a pair the requests go one at a
time, interleaved: MLflow, (MLflow's reference request,) tinyserve. Servers run in their own
session with their output in a log file, and are stopped by process group: `mlflow models
serve` runs uvicorn as a grandchild through bash.
"""
from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

from tests.compat.compare import Answer, Form, form_difference, form_of, render
from tests.compat.corpus import SERVER_VARIANTS, Case, groups
from tests.compat.differences import Plan, RULES, apply_universal, plan_for
from tests.support import REPO, child_env, fixture, free_port, request

READY_TIMEOUT = 180.0  # MLflow starts in ~25 s alone; two at once on a small CI machine
REQUEST_TIMEOUT = 30.0


class Server:
    """One server process in its own session; ``stop`` kills its whole process group."""

    def __init__(self, label: str, argv: List[str], env: Dict[str, str], cwd: str) -> None:
        self.label = label
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        self.error: Optional[str] = None
        self.process = subprocess.Popen(
            [arg.replace("{port}", str(self.port)) for arg in argv], env=env, cwd=cwd,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_ready(self, deadline: float) -> bool:
        """True once `/ping` answers 200; else ``error`` says why (the log's tail)."""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.error = f"{self.label} exited with {self.process.returncode}"
                break
            try:
                if request(self.port, "GET", "/ping", timeout=2).status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        else:
            self.error = f"{self.label} did not answer /ping in time"
        self.error += ":\n" + self.log_tail()
        return False

    def log_tail(self, lines: int = 15) -> str:
        self.log.seek(0)
        return "\n".join(self.log.read().decode("utf-8", "replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(10)
                    break
                except subprocess.TimeoutExpired:
                    continue
        try:  # uvicorn may outlive bash; the group goes with it
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.log.close()


def mlflow_server(python: str, model: str, flags: Sequence[str], extra_env: Dict[str, str],
                  workdir: str) -> Server:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(extra_env)
    # `mlflow models serve` execs `uvicorn` from PATH: the venv's bin directory must come first
    env["PATH"] = os.path.dirname(python) + os.pathsep + env.get("PATH", "")
    env["MLFLOW_RECORD_ENV_VARS_IN_MODEL_LOGGING"] = "false"
    argv = [python, "-m", "mlflow", "models", "serve", "-m", fixture(model), "-p", "{port}",
            "--env-manager", "local", *flags]
    return Server(f"mlflow[{model}]", argv, env, workdir)


def tinyserve_server(model: str, flags: Sequence[str], extra_env: Dict[str, str]) -> Server:
    argv = [sys.executable, "-m", "tinyserve", "serve", "-m", fixture(model), "-p", "{port}",
            *flags]
    return Server(f"tinyserve[{model}]", argv, child_env(extra_env), REPO)


def send(server: Optional[Server], case: Case) -> Answer:
    if server is None:
        return Answer(0, {}, b"no server: the fixture model is missing")
    if server.error:
        return Answer(0, {}, server.error.encode())
    try:
        reply = request(server.port, case.method, case.path, case.body, dict(case.headers),
                        timeout=REQUEST_TIMEOUT)
    except Exception as error:  # noqa: BLE001 - any failure to get an answer is an answer
        return Answer(0, {}, f"no answer: {error!r}".encode())
    return Answer(reply.status, reply.headers, reply.body)


@dataclass
class Outcome:
    """One case judged: what MLflow said, what tinyserve had to say, what it said."""

    plan: Plan
    mlflow: Form
    expected: Form
    tinyserve: Form
    problem: Optional[str]  # None when tinyserve agrees

    @property
    def case(self) -> Case:
        return self.plan.case


def judge(plan: Plan, mlflow: Form, reference: Optional[Form], tinyserve: Form) -> Outcome:
    base = reference if reference is not None else mlflow
    expected = apply_universal(plan.rule.expected(base, plan.case) if plan.rule else dict(base))
    problem = form_difference(expected, tinyserve)
    if problem is None and plan.rule and form_difference(expected, mlflow) is None:
        problem = f"stale rule {plan.rule.name}: MLflow already answers this way"
    if problem is None and (mlflow["status"] == 0 or tinyserve["status"] == 0):
        problem = "no answer"
    return Outcome(plan, mlflow, expected, tinyserve, problem)


# case id -> {"request": fingerprint, "mlflow": answer, "reference": answer or None}, each
# answer as {"status", "headers", "body" (base64), "port"}: MLflow's raw answers, for a replay
Recording = Dict[str, Dict[str, Any]]


def recorded(answer: Answer, port: int) -> Dict[str, Any]:
    return {"status": answer.status, "headers": answer.headers, "port": port,
            "body": base64.b64encode(answer.body).decode("ascii")}


def form_of_recorded(saved: Optional[Dict[str, Any]], what: str) -> Form:
    if saved is None:
        return {"status": 0, "content_type": "", "text": f"{what} not recorded"}
    answer = Answer(saved["status"], saved["headers"], base64.b64decode(saved["body"]))
    return form_of(answer, saved["port"])


class Pair:
    """The two servers of one (model, variant) group (no MLflow one when replaying)."""

    def __init__(self, model: str, variant: str, mlflow_python: Optional[str],
                 workdir: str) -> None:
        self.model, self.variant = model, variant
        self.mlflow: Optional[Server] = None
        self.tinyserve: Optional[Server] = None
        self.missing = not os.path.isdir(fixture(model))
        if self.missing:
            return
        flags, env = SERVER_VARIANTS[variant]
        if mlflow_python:
            self.mlflow = mlflow_server(mlflow_python, model, flags, env, workdir)
        self.tinyserve = tinyserve_server(model, flags, env)

    def servers(self) -> List[Server]:
        return [server for server in (self.mlflow, self.tinyserve) if server is not None]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        for server in self.servers():
            if not server.error:
                server.wait_ready(deadline)

    def stop(self) -> None:
        for server in self.servers():
            server.stop()


def fingerprint(case: Case) -> str:
    """Identifies the request, so a replay never reuses an answer to an edited case."""
    text = repr((case.method, case.path, case.headers, case.body, case.server))
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()[:16]


def ask_mlflow(pair: Pair, plan: Plan) -> Dict[str, Any]:
    port = pair.mlflow.port if pair.mlflow else 0
    answers: Dict[str, Any] = {"request": fingerprint(plan.case), "reference": None,
                               "mlflow": recorded(send(pair.mlflow, plan.case), port)}
    if plan.reference is not None:
        answers["reference"] = recorded(send(pair.mlflow, plan.reference), port)
    return answers


def run_group(pair: Pair, cases: Sequence[Case], recording: Recording,
              replay: bool) -> List[Outcome]:
    outcomes = []
    for case in cases:
        plan = plan_for(case)
        if replay:
            answers = recording.get(case.id, {})
            if answers.get("request") != fingerprint(case):
                answers = {"mlflow": None, "reference": None}
        else:
            answers = recording[case.id] = ask_mlflow(pair, plan)
        tinyserve = form_of(send(pair.tinyserve, case),
                            pair.tinyserve.port if pair.tinyserve else 0)
        mlflow = form_of_recorded(answers["mlflow"], "MLflow's answer")
        reference = None
        if plan.reference is not None:
            reference = form_of_recorded(answers["reference"], "MLflow's reference answer")
        outcomes.append(judge(plan, mlflow, reference, tinyserve))
    return outcomes


def run_comparison(cases: Sequence[Case], mlflow_python: Optional[str], ahead: int = 2,
                   progress: Callable[[str], None] = lambda line: None,
                   recording: Optional[Recording] = None) -> List[Outcome]:
    """Send every case to both servers of its model; ``ahead`` pairs start in advance.

    Without ``mlflow_python``, MLflow's answers come from ``recording`` (a replay: only
    tinyserve runs); with it, MLflow's answers are also stored into ``recording`` if given.
    """
    replay = mlflow_python is None
    if recording is None:
        recording = {}
    todo: Deque[Tuple[Tuple[str, str], List[Case]]] = deque(groups(cases))
    started: Deque[Tuple[Pair, List[Case]]] = deque()
    outcomes: List[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="compat-mlflow-") as workdir:
        try:
            while todo or started:
                while todo and len(started) <= ahead:
                    (model, variant), group_cases = todo.popleft()
                    started.append((Pair(model, variant, mlflow_python, workdir), group_cases))
                pair, group_cases = started.popleft()
                began = time.monotonic()
                pair.wait_ready()
                try:
                    group = run_group(pair, group_cases, recording, replay)
                finally:
                    pair.stop()
                outcomes += group
                agreed = sum(o.problem is None for o in group)
                progress(f"{pair.model} [{pair.variant}]: {agreed}/{len(group)} agree "
                         f"({time.monotonic() - began:.0f} s)")
        finally:
            for pair, _ in started:
                pair.stop()
    return outcomes


def check_rules(cases: Sequence[Case]) -> List[str]:
    """Problems with differences.py itself: rules naming cases the corpus does not have."""
    ids = {case.id for case in cases}
    return [f"rule {rule.name} names unknown case {case_id!r}"
            for rule in RULES for case_id in rule.cases if case_id not in ids]


def spec_notes(outcomes: Sequence[Outcome]) -> List[str]:
    """Cases where real MLflow answered another status than the spec's checklist predicts."""
    return [f"{o.case.id} (item {o.case.item}): spec says {o.case.spec_status}, "
            f"MLflow answered {o.mlflow['status']}"
            for o in outcomes if o.case.spec_status is not None
            and o.mlflow["status"] != o.case.spec_status]


def describe_request(case: Case, limit: int = 300) -> str:
    body = "" if case.body is None else repr(case.body[:limit]) + (
        "..." if len(case.body) > limit else "")
    return f"{case.method} {case.path} headers={dict(case.headers)} body={body}"


def report(outcomes: Sequence[Outcome]) -> str:
    """`agreement: N/M`, then every disagreement with both answers."""
    bad = [o for o in outcomes if o.problem]
    lines = [f"agreement: {len(outcomes) - len(bad)}/{len(outcomes)}"]
    for outcome in bad:
        rule = f" [rule {outcome.plan.rule.name}]" if outcome.plan.rule else ""
        lines += [f"- {outcome.case.id} ({outcome.case.model}){rule}: {outcome.problem}",
                  f"    request:   {describe_request(outcome.case)}",
                  f"    mlflow:    {render(outcome.mlflow)}",
                  f"    expected:  {render(outcome.expected)}" if outcome.plan.rule else "",
                  f"    tinyserve: {render(outcome.tinyserve)}"]
    return "\n".join(line for line in lines if line)
