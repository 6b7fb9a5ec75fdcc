"""A real ``mlflow server`` for tests: SQLite backend, proxied artifacts, 127.0.0.1, stopped by
process group (it starts worker processes of its own)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from typing import Optional

from tests.support import free_port


class MlflowServer:
    def __init__(self, python: str, workdir: str) -> None:
        self.python = python
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Optional[subprocess.Popen] = None
        self.log_path = os.path.join(workdir, "mlflow-server.log")

    def start(self, timeout: float = 120.0) -> "MlflowServer":
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(self.python) + os.pathsep + env.get("PATH", "")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [self.python, "-m", "mlflow", "server", "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", "1",
                 "--backend-store-uri", "sqlite:///server.db",
                 "--artifacts-destination", os.path.join(self.workdir, "served-artifacts")],
                cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer in {timeout} s: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, size: int = 3000) -> str:
        with open(self.log_path, "rb") as log:
            return log.read()[-size:].decode("utf-8", "replace")
