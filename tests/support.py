"""Shared test tools: fixture paths, free ports, real server processes and raw HTTP."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "models")
EXAMPLE_MODEL = os.path.join(REPO, "examples", "iris-model")
MLFLOW_PYTHON_ENV = "TINYSERVE_MLFLOW_PYTHON"
# Figures a test wants in the run's summary (CI log); tests/conftest.py prints them.
SUMMARY_LINES: List[str] = []


def fixture(name: str) -> str:
    return os.path.join(FIXTURES, name)


def refused(port: int) -> bool:
    """Whether a new connection to the loopback ``port`` is refused (nothing listens)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment for a child python: this repo first on sys.path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra or {})
    return env


class Response:
    def __init__(self, status: int, headers: Dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        import json

        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    body: Optional[bytes] = None,
    headers: Optional[Dict[str, str]] = None,
    timeout: float = 30.0,
    host: str = "127.0.0.1",
) -> Response:
    """One real HTTP request; headers are sent exactly as given (no Content-Type added)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        reply = conn.getresponse()
        data = reply.read()
        return Response(reply.status, {k.lower(): v for k, v in reply.getheaders()}, data)
    finally:
        conn.close()


class ServerProcess:
    """A real server in a subprocess on a free loopback port, stopped by its PID."""

    def __init__(self, argv: List[str], port: int, env: Optional[Dict[str, str]] = None,
                 python: str = sys.executable) -> None:
        self.port = port
        self.log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server never blocks
        self.process = subprocess.Popen(
            [python, *argv], env=child_env(env), cwd=REPO,
            stdout=self.log, stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def output_with(self, *texts: str, timeout: float = 5.0) -> str:
        """The output once every one of ``texts`` is in it: log lines are written in batches
        (``tinyserve.log_output``), up to 0.1 s after their request was answered."""
        deadline = time.monotonic() + timeout
        output = self.output()
        while not all(text in output for text in texts) and time.monotonic() < deadline:
            time.sleep(0.02)
            output = self.output()
        return output

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if request(self.port, "GET", "/ping", timeout=2).status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not answer /ping in time")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> Tuple[int, str]:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        output = self.output()
        self.log.close()
        return self.process.returncode, output


def start_tinyserve(model: str, *flags: str, env: Optional[Dict[str, str]] = None) -> ServerProcess:
    port = free_port()
    server = ServerProcess(
        ["-m", "tinyserve", "serve", "-m", model, "-p", str(port), *flags], port, env=env
    )
    server.wait_ready()
    return server


def run_cli(*args: str, input_bytes: Optional[bytes] = None, timeout: float = 120.0,
            env: Optional[Dict[str, str]] = None, cwd: str = REPO
            ) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tinyserve", *args], input=input_bytes, capture_output=True,
        env=child_env(env), cwd=cwd, timeout=timeout,
    )
