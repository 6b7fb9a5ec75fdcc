"""The command line, run for real in a subprocess: flags, exit codes, one-line errors."""
from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import unittest

from tests.support import fixture, free_port, request, run_cli, start_tinyserve

MODEL = fixture("sk_pickle")
SPLIT = json.dumps({"dataframe_split": {"columns": ["a", "b"],
                                        "data": [[0.0, 1.0], [5.0, 2.0]]}}).encode()


def one_line_error(test: unittest.TestCase, result, code: int, *fragments: str) -> None:
    stderr = result.stderr.decode()
    test.assertEqual(result.returncode, code, stderr)
    test.assertNotIn("Traceback", stderr)
    lines = [line for line in stderr.splitlines() if line.startswith("tinyserve: error:")]
    test.assertEqual(len(lines), 1, stderr)
    for fragment in fragments:
        test.assertIn(fragment, lines[0])


class ServeFlagsTest(unittest.TestCase):
    def test_model_uri_is_required_like_mlflow(self) -> None:
        result = run_cli("serve")
        self.assertEqual(result.returncode, 2)
        self.assertIn(b"-m/--model-uri", result.stderr)

    def test_env_managers_that_build_environments_are_refused_clearly(self) -> None:
        for manager in ("virtualenv", "uv", "conda"):
            with self.subTest(manager=manager):
                result = run_cli("serve", "-m", MODEL, "--env-manager", manager)
                one_line_error(self, result, 2, f"--env-manager {manager} is not supported",
                               "current Python environment")

    def test_unknown_env_manager_lists_the_choices(self) -> None:
        one_line_error(self, run_cli("serve", "-m", MODEL, "--env-manager", "bogus"), 2,
                       "'bogus'", "['local', 'virtualenv', 'uv', 'conda']")

    def test_bad_numbers_in_environment_defaults_are_one_line_exit_2(self) -> None:
        for name in ("MLFLOW_PORT", "MLFLOW_MODELS_WORKERS",
                     "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT", "TINYSERVE_MAX_BODY_SIZE"):
            with self.subTest(name=name):
                one_line_error(self, run_cli("serve", "-m", MODEL, env={name: "lots"}), 2,
                               f"{name}='lots' is not a valid")

    def test_install_mlflow_is_refused_clearly(self) -> None:
        one_line_error(self, run_cli("serve", "-m", MODEL, "--install-mlflow"), 2,
                       "--install-mlflow is not supported")

    def test_missing_model_directory_is_one_line_exit_1(self) -> None:
        one_line_error(self, run_cli("serve", "-m", "no/such/model"), 1,
                       "Model directory not found")

    def test_directory_without_mlmodel_is_one_line_exit_1(self) -> None:
        with tempfile.TemporaryDirectory() as empty:
            one_line_error(self, run_cli("serve", "-m", empty), 1, "MLmodel")

    def test_unknown_flavor_names_the_loader_module(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            model = os.path.join(tmp, "model")
            shutil.copytree(MODEL, model)
            path = os.path.join(model, "MLmodel")
            with open(path) as handle:
                text = handle.read().replace("loader_module: mlflow.sklearn",
                                             "loader_module: mlflow.xgboost")
            with open(path, "w") as handle:
                handle.write(text)
            one_line_error(self, run_cli("serve", "-m", model), 1, "mlflow.xgboost")

    def test_busy_port_is_one_line_exit_1(self) -> None:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            one_line_error(self, run_cli("serve", "-m", MODEL, "-p", str(port)), 1,
                           f"127.0.0.1:{port}")

    def test_cloud_storage_uris_are_refused_in_one_line_saying_what_to_do(self) -> None:
        one_line_error(self, run_cli("serve", "-m", "s3://bucket/model"), 1,
                       "in s3 storage (s3://bucket/model), which needs a vendor SDK",
                       "mlflow server --serve-artifacts", "download the model directory first")


class ServeRunsTest(unittest.TestCase):
    def test_file_uri_and_no_conda_serve_the_model(self) -> None:
        server = start_tinyserve("file://" + MODEL, "--no-conda", "--threads", "2")
        try:
            reply = request(server.port, "POST", "/invocations", SPLIT,
                            {"Content-Type": "application/json"})
            self.assertEqual((reply.status, reply.json()), (200, {"predictions": [0, 1]}))
        finally:
            self.assertEqual(server.stop()[0], 0)

    def test_port_and_host_come_from_mlflow_env_vars(self) -> None:
        port = free_port()
        from tests.support import ServerProcess

        server = ServerProcess(["-m", "tinyserve", "serve", "-m", MODEL], port,
                               env={"MLFLOW_PORT": str(port), "MLFLOW_HOST": "127.0.0.1"})
        try:
            server.wait_ready()
            self.assertEqual(request(port, "GET", "/ping").body, b"\n")
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
