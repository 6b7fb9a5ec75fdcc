"""Real MLServer processes for the tests: ``tinyserve serve --enable-mlserver`` in the Python
named by ``TINYSERVE_MLSERVER_PYTHON`` (``.ci/run`` sets up ``.venvs/mlserver``; MLServer never
enters tinyserve's own test venv). Servers bind 127.0.0.1 on free ports, run in a session of
their own and are stopped by PID (SIGTERM, then SIGKILL for the group if they hang)."""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
import unittest
from typing import Dict, List, Optional, Sequence, Tuple

from tests.support import REPO, child_env, free_port, request

MLSERVER_PYTHON_ENV = "TINYSERVE_MLSERVER_PYTHON"
MLSERVER_PYTHON = os.environ.get(MLSERVER_PYTHON_ENV)
NEEDS_MLSERVER = unittest.skipUnless(
    MLSERVER_PYTHON, f"{MLSERVER_PYTHON_ENV} is not set: no Python with MLServer to run "
                     "(.ci/run sets up .venvs/mlserver)")
MODEL_NAME = "m"
READY_TIMEOUT = 90.0  # about 2 s alone; more with workers on a busy 2-CPU machine


class MLServerProcess:
    """One MLServer serving one model through tinyserve's runtime."""

    def __init__(self, argv: Sequence[str], env: Optional[Dict[str, str]] = None,
                 cwd: str = REPO, port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self.grpc_port = free_port()
        self.log = tempfile.TemporaryFile()
        self.stopped: Optional[Tuple[int, str]] = None
        argv = [arg.replace("{port}", str(self.port)).replace("{grpc_port}", str(self.grpc_port))
                for arg in argv]
        self.process = subprocess.Popen(argv, env=env if env is not None else child_env(),
                                        cwd=cwd, stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    @classmethod
    def serve(cls, model: str, *flags: str, workers: int = 0, name: str = MODEL_NAME,
              env: Optional[Dict[str, str]] = None) -> "MLServerProcess":
        """``tinyserve serve --enable-mlserver`` on free ports (metrics off: one port less)."""
        argv = [str(MLSERVER_PYTHON), "-m", "tinyserve", "serve", "-m", model, "-p", "{port}",
                "--enable-mlserver", "--grpc-port", "{grpc_port}", "--no-metrics",
                "-w", str(workers), "--model-name", name, *flags]
        return cls(argv, child_env(env))

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def wait_ready(self, path: str = f"/v2/models/{MODEL_NAME}/ready",
                   timeout: float = READY_TIMEOUT) -> "MLServerProcess":
        """Until ``path`` answers 200; the process dying or the deadline fails the test."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"MLServer exited with {self.process.returncode}:\n"
                                     f"{self.output()[-4000:]}")
            try:
                if request(self.port, "GET", path, timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"MLServer did not answer {path} in {timeout:.0f} s:\n"
                             f"{self.output()[-4000:]}")

    def stop(self, timeout: float = 30.0) -> Tuple[int, str]:
        """SIGTERM to the server's PID; its whole group is killed if it does not exit.
        Stopping again returns the first stop's result."""
        if self.stopped is not None:
            return self.stopped
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:  # spawned workers left behind by a hung server go with its group
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait(10)
        self.stopped = (self.process.returncode, self.output())
        self.log.close()
        return self.stopped


def run_in_mlserver_python(script: str, *args: str, timeout: float = 120.0
                           ) -> subprocess.CompletedProcess:
    """A Python snippet in the MLServer venv (for gRPC clients and imports)."""
    return subprocess.run([str(MLSERVER_PYTHON), "-c", script, *args], capture_output=True,
                          text=True, env=child_env(), cwd=REPO, timeout=timeout)


def children_of(pid: int) -> List[int]:
    """PIDs whose parent is ``pid`` (Linux /proc), e.g. MLServer's parallel workers."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found
