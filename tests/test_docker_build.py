"""``build-docker`` with a stand-in ``docker`` command that records its calls (no Docker engine
runs on the test machines), and without any ``docker`` at all."""
from __future__ import annotations

import json
import unittest
import os
import sys
from typing import Dict, List

from tests.support import run_cli
from tests.test_cli import one_line_error
from tests.test_docker import SKOPS_MODEL, ContextCase

FAKE_DOCKER = """#!{python}
import json, os, sys
with open({record!r}, "a") as handle:
    handle.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(),
                             "files": sorted(os.listdir(".")),
                             "dockerfile": open("Dockerfile").read()
                             if os.path.exists("Dockerfile") else None}}) + "\\n")
if sys.argv[1] == "info" and {daemon_down}:
    sys.stderr.write("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                     "Is the docker daemon running?\\n")
    sys.exit(1)
sys.exit({build_status} if sys.argv[1] == "build" else 0)
"""


class BuildDockerTest(ContextCase):
    def fake_docker(self, daemon_down: bool = False, build_status: int = 0) -> Dict[str, str]:
        """A PATH whose only ``docker`` records its calls into ``self.record``."""
        bin_dir = os.path.join(self.tmp, "bin")
        os.makedirs(bin_dir, exist_ok=True)
        self.record = os.path.join(self.tmp, "calls.jsonl")
        path = os.path.join(bin_dir, "docker")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(FAKE_DOCKER.format(python=sys.executable, record=self.record,
                                            daemon_down=daemon_down, build_status=build_status))
        os.chmod(path, 0o755)
        return {"PATH": bin_dir}

    def calls(self) -> List[dict]:
        if not os.path.exists(self.record):
            return []
        with open(self.record, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    def test_without_docker_on_path_one_line_exit_1(self) -> None:
        empty = os.path.join(self.tmp, "empty-bin")
        os.makedirs(empty)
        result = run_cli("build-docker", "-m", SKOPS_MODEL, env={"PATH": empty})
        one_line_error(self, result, 1, "docker command, which is not on PATH",
                       "generate-dockerfile")

    def test_runs_docker_build_in_a_generated_context_then_removes_it(self) -> None:
        for flags, name in (([], "mlflow-pyfunc-servable"), (["-n", "my/model:1"], "my/model:1")):
            with self.subTest(flags=flags):
                env = self.fake_docker()
                if os.path.exists(self.record):
                    os.remove(self.record)
                result = run_cli("build-docker", "-m", SKOPS_MODEL, *flags, env=env)
                self.assertEqual(result.returncode, 0, result.stderr.decode())
                info, build = self.calls()
                self.assertEqual(info["argv"], ["info", "--format", "{{.ServerVersion}}"])
                self.assertEqual(build["argv"], ["build", "-t", name, "-f", "Dockerfile", "."])
                self.assertEqual(build["files"],
                                 ["Dockerfile", "model", "requirements.txt", "tinyserve"])
                self.assertIn("FROM python:3.11.7-slim", build["dockerfile"])
                self.assertFalse(os.path.exists(build["cwd"]))

    def test_build_docker_passes_image_flags_to_the_context(self) -> None:
        wheelhouse = self.wheelhouse()
        result = run_cli("build-docker", "-m", SKOPS_MODEL, "--base-image", "python:3.12-slim",
                         "--wheelhouse", wheelhouse, env=self.fake_docker())
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        build = self.calls()[-1]
        self.assertIn("wheelhouse", build["files"])
        self.assertIn("FROM python:3.12-slim", build["dockerfile"])
        self.assertIn("--no-index", build["dockerfile"])

    def test_stopped_daemon_is_one_line_exit_1_and_no_build_runs(self) -> None:
        result = run_cli("build-docker", "-m", SKOPS_MODEL, env=self.fake_docker(daemon_down=True))
        one_line_error(self, result, 1, "Cannot reach a Docker engine",
                       "Is the docker daemon running?", "generate-dockerfile")
        self.assertEqual([call["argv"][0] for call in self.calls()], ["info"])

    def test_failing_build_is_one_line_exit_1(self) -> None:
        result = run_cli("build-docker", "-m", SKOPS_MODEL, env=self.fake_docker(build_status=3))
        one_line_error(self, result, 1, "docker build failed with exit status 3")

    def test_bad_model_is_reported_before_docker_is_called(self) -> None:
        result = run_cli("build-docker", "-m", "no/such/model", env=self.fake_docker())
        one_line_error(self, result, 1, "Model directory not found")
        self.assertEqual(self.calls(), [])


if __name__ == "__main__":
    unittest.main()
