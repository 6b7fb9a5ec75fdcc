"""``serve --enable-mlserver`` without MLServer running: flags to settings, refusals, the
Python range, the missing extra, the signature's V2 metadata, the Docker context, and the
modules that must stay importable without MLServer. MLServer itself runs in
``tests/test_mlserver_engine.py``."""
from __future__ import annotations

import ast
import configparser
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Any, Dict, List, Optional

from tests.support import EXAMPLE_MODEL, REPO, child_env, fixture, free_port, run_cli
from tests.test_cli import one_line_error
from tests.test_docker import env_of, instructions, only
from tinyserve import mlserver_cli, mlserver_metadata
from tinyserve.cli import UsageError, build_parser
from tinyserve.signature import parse_schema

MLSERVER_HERE = importlib.util.find_spec("mlserver") is not None
STDLIB_ONLY = ["tinyserve.mlserver_cli", "tinyserve.mlserver_metadata", "tinyserve.mlserver_main",
               "tinyserve.cli"]
HEAVY = ["numpy", "pandas", "cloudpickle", "waitress", "mlserver", "fastapi", "grpc", "uvloop"]


def config_for(*flags: str, env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    args = build_parser().parse_args(["serve", "-m", "model", "--enable-mlserver", *flags])
    return mlserver_cli.build_config(args, env or {})


class SettingsTest(unittest.TestCase):
    def test_defaults_follow_tinyserve_serve_and_ports_follow_the_http_port(self) -> None:
        config = config_for()
        self.assertEqual(config["graceful_timeout"], 30.0)
        self.assertEqual(config["server"], {
            "host": "127.0.0.1", "http_port": 5000, "grpc_port": 5001, "metrics_port": 5002,
            "metrics_endpoint": "/metrics", "parallel_workers": 1, "debug": False})
        self.assertEqual(config["model"], {
            "name": "mlflow-model", "implementation": "tinyserve.mlserver.TinyserveRuntime",
            "parameters": {"uri": None, "extra": {"timeout": 60.0,
                                                  "max_body_size": 100 * 1024 * 1024,
                                                  "debug": False}}})

    def test_flags_and_environment_map_to_mlserver_settings(self) -> None:
        table = [  # flags, env, (section, key) -> expected
            (["-p", "8080"], {}, {("server", "http_port"): 8080, ("server", "grpc_port"): 8081,
                                  ("server", "metrics_port"): 8082}),
            (["-h", "0.0.0.0", "-w", "3"], {}, {("server", "host"): "0.0.0.0",
                                                ("server", "parallel_workers"): 3}),
            (["-w", "0"], {}, {("server", "parallel_workers"): 0}),
            ([], {"MLFLOW_PORT": "7000", "MLFLOW_MODELS_WORKERS": "2"},
             {("server", "http_port"): 7000, ("server", "grpc_port"): 7001,
              ("server", "parallel_workers"): 2}),
            ([], {"MLFLOW_PORT": "7000", "MLSERVER_HTTP_PORT": "9000",
                  "MLFLOW_MODELS_WORKERS": "2", "MLSERVER_PARALLEL_WORKERS": "4"},
             {("server", "http_port"): 9000, ("server", "grpc_port"): 9001,
              ("server", "parallel_workers"): 4}),
            (["-p", "6000", "-w", "1"], {"MLSERVER_HTTP_PORT": "9000",
                                         "MLSERVER_PARALLEL_WORKERS": "4"},
             {("server", "http_port"): 6000, ("server", "parallel_workers"): 1}),
            (["--grpc-port", "9000", "--metrics-port", "9100"], {},
             {("server", "grpc_port"): 9000, ("server", "metrics_port"): 9100}),
            ([], {"MLSERVER_GRPC_PORT": "9000", "MLSERVER_METRICS_PORT": "9100"},
             {("server", "grpc_port"): 9000, ("server", "metrics_port"): 9100}),
            (["--model-name", "iris"], {"MLSERVER_MODEL_NAME": "other"},
             {("model", "name"): "iris"}),
            ([], {"MLSERVER_MODEL_NAME": "other"}, {("model", "name"): "other"}),
            (["--max-batch-size", "8", "--max-batch-time", "0.01"], {},
             {("model", "max_batch_size"): 8, ("model", "max_batch_time"): 0.01}),
            (["-t", "5", "--max-body-size", "1000", "--debug"], {},
             {("server", "debug"): True,
              ("model", "parameters"): {"uri": None, "extra": {"timeout": 5.0,
                                                              "max_body_size": 1000,
                                                              "debug": True}}}),
        ]
        for flags, env, expected in table:
            with self.subTest(flags=flags, env=env):
                config = config_for(*flags, env=env)
                for (section, key), value in expected.items():
                    self.assertEqual(config[section][key], value)

    def test_metrics_off_leaves_no_metrics_server_and_no_port(self) -> None:
        for flags, env in ((["--no-metrics"], {}), ([], {"TINYSERVE_METRICS": "0"})):
            with self.subTest(flags=flags, env=env):
                server = config_for(*flags, env=env)["server"]
                self.assertIsNone(server["metrics_endpoint"])
                self.assertNotIn("metrics_port", server)

    def test_bad_settings_are_usage_errors_naming_the_flag(self) -> None:
        table = [
            (["-w", "-1"], {}, "-w/--workers must be 0 or more"),
            (["-p", "0"], {}, "-p must be a port from 1 to 65535"),
            (["-p", "65535"], {}, "--grpc-port must be a port"),
            (["--grpc-port", "5000"], {}, "ports must differ"),
            ([], {"MLSERVER_GRPC_PORT": "x"}, "MLSERVER_GRPC_PORT='x' is not a valid port"),
            (["--max-batch-size", "8"], {}, "needs both --max-batch-size"),
            (["--max-batch-time", "0.1"], {}, "needs both --max-batch-size"),
            (["--max-batch-size", "1", "--max-batch-time", "0.1"], {}, "(2 or more)"),
            (["--max-batch-size", "4", "--max-batch-time", "0"], {}, "more than 0"),
            (["--graceful-timeout", "-1"], {}, "--graceful-timeout must be 0 or more"),
        ]
        for flags, env, fragment in table:
            with self.subTest(flags=flags, env=env):
                with self.assertRaises(UsageError) as caught:
                    config_for(*flags, env=env)
                self.assertIn(fragment, str(caught.exception))


class RefusalsTest(unittest.TestCase):
    def test_flags_mlserver_cannot_honour_are_one_line_exit_2(self) -> None:
        table = [(["--threads", "4"], "--threads"), (["--max-in-flight", "3"], "--max-in-flight"),
                 (["--header-timeout", "1"], "--header-timeout"),
                 (["--max-header-size", "9000"], "--max-header-size"),
                 (["--log-format", "json"], "--log-format json"),
                 (["--cors-allow-origins", "*"], "--cors-allow-origins"),
                 (["--env-manager", "conda"], "--env-manager conda")]
        for flags, fragment in table:
            with self.subTest(flags=flags):
                result = run_cli("serve", "-m", EXAMPLE_MODEL, "--enable-mlserver", *flags)
                one_line_error(self, result, 2, fragment)

    def test_engine_flags_without_enable_mlserver_are_refused(self) -> None:
        for flags in (["--grpc-port", "9000"], ["--max-batch-size", "4"], ["--model-name", "x"]):
            with self.subTest(flags=flags):
                result = run_cli("serve", "-m", EXAMPLE_MODEL, *flags)
                one_line_error(self, result, 2, f"{flags[0]} needs --enable-mlserver")

    @unittest.skipIf(MLSERVER_HERE, "MLServer is installed in this Python")
    def test_missing_extra_names_the_pip_command(self) -> None:
        result = run_cli("serve", "-m", EXAMPLE_MODEL, "--enable-mlserver", "-p",
                         str(free_port()))
        one_line_error(self, result, 2, "needs MLServer", "pip install 'tinyserve[mlserver]'")

    def test_python_outside_mlserver_range_is_refused_with_the_way_out(self) -> None:
        for version, accepted in (((3, 8, 18), False), ((3, 9, 0), True), ((3, 12, 7), True),
                                  ((3, 13, 0), False), ((3, 14, 1), False)):
            with self.subTest(version=version):
                if accepted:
                    mlserver_cli.check_python(version)
                    continue
                with self.assertRaises(UsageError) as caught:
                    mlserver_cli.check_python(version)
                text = str(caught.exception)
                self.assertIn("Python 3.9 to 3.12", text)
                self.assertIn(".".join(map(str, version)), text)

    def test_uvloop_that_crashes_mlserver_workers_is_refused(self) -> None:
        for version, refused in (("0.21.0", False), ("0.22.0", True),
                                 ("0.23.1", True), ("1.0.0rc1", True), ("0.19", False),
                                 (None, False)):
            with self.subTest(version=version):
                if not refused:
                    mlserver_cli.check_uvloop(version)
                    continue
                with self.assertRaises(UsageError) as caught:
                    mlserver_cli.check_uvloop(version)
                self.assertIn("pip install 'uvloop<0.22'", str(caught.exception))
                self.assertIn("-w 0", str(caught.exception))


class MetadataTest(unittest.TestCase):
    def test_columns_and_tensors_become_v2_tensors(self) -> None:
        table = [
            ('[{"type": "double", "name": "a"}, {"type": "string", "name": "s"}, '
             '{"type": "long", "name": "n"}, {"type": "binary", "name": "b"}, '
             '{"type": "datetime", "name": "d"}, {"type": "boolean", "name": "f"}, '
             '{"type": "array", "items": {"type": "long"}, "name": "arr"}]',
             [("a", "FP64", [-1, 1], "np"), ("s", "BYTES", [-1, 1], "str"),
              ("n", "INT64", [-1, 1], "np"), ("b", "BYTES", [-1, 1], "base64"),
              ("d", "BYTES", [-1, 1], "datetime"), ("f", "BOOL", [-1, 1], "np"),
              ("arr", "BYTES", [-1, 1], "pd_json")], "pd"),
            ('[{"type": "double"}, {"type": "integer"}]',
             [("input-0", "FP64", [-1, 1], "np"), ("input-1", "INT32", [-1, 1], "np")], "pd"),
            ('[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]',
             [("input-0", "FP32", [-1, 2], "np")], "np"),
            ('[{"name": "a", "type": "tensor", "tensor-spec": {"dtype": "float64", '
             '"shape": [-1, 2]}}, {"name": "b", "type": "tensor", "tensor-spec": '
             '{"dtype": "object", "shape": [-1]}}]',
             [("a", "FP64", [-1, 2], "np"), ("b", "BYTES", [-1], "np")], "dict"),
        ]
        for schema_json, tensors, content_type in table:
            with self.subTest(schema=schema_json[:60]):
                schema = parse_schema(schema_json)
                found = mlserver_metadata.tensors(schema, "input-")
                self.assertEqual([tuple(t) for t in found], tensors)
                self.assertEqual(mlserver_metadata.request_content_type(schema), content_type)

    def test_no_schema_means_no_tensors_and_dataframe_decoding(self) -> None:
        self.assertEqual(mlserver_metadata.tensors(None, "output-"), [])
        self.assertEqual(mlserver_metadata.request_content_type(None), "pd")


class LaunchTest(unittest.TestCase):
    def test_launch_runs_the_same_python_with_the_settings_as_json(self) -> None:
        config = config_for("-p", "8080")
        argv = mlserver_cli.launch_argv(config)
        self.assertEqual(argv[:3], [sys.executable, "-m", "tinyserve.mlserver_main"])
        self.assertEqual(json.loads(argv[3]), config)

    def test_a_source_tree_is_put_on_pythonpath_for_mlserver_and_its_workers(self) -> None:
        import sysconfig

        site_packages = sysconfig.get_paths()["purelib"]
        table = [(REPO, {"PYTHONPATH": "/elsewhere"}, REPO + os.pathsep + "/elsewhere"),
                 (REPO, {}, REPO),
                 (site_packages, {"PYTHONPATH": "/elsewhere"}, "/elsewhere"),
                 (site_packages, {}, None)]
        for root, environ, expected in table:
            with self.subTest(root=root, environ=environ):
                env = mlserver_cli.launch_env(environ, root)
                self.assertEqual(env.get("PYTHONPATH"), expected)

    def test_busy_port_is_one_line_exit_1_before_the_model_loads(self) -> None:
        import socket

        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            with self.assertRaises(Exception) as caught:
                mlserver_cli.check_ports({"host": "127.0.0.1", "http_port": free_port(),
                                          "grpc_port": port, "metrics_endpoint": None})
        self.assertEqual(type(caught.exception).__name__, "ModelLoadError")
        self.assertIn(f"Cannot listen on 127.0.0.1:{port} (gRPC)", str(caught.exception))


class ImportsTest(unittest.TestCase):
    def test_cli_and_engine_helpers_import_neither_mlserver_nor_heavy_packages(self) -> None:
        probe = ("import importlib, json, sys\nfor name in sys.argv[1:]:\n"
                 "    importlib.import_module(name)\nprint(json.dumps(sorted(sys.modules)))")
        for module in STDLIB_ONLY:
            with self.subTest(module=module):
                out = subprocess.run([sys.executable, "-c", probe, module], capture_output=True,
                                     env=child_env(), cwd=REPO, check=True).stdout
                heavy = sorted(m for m in json.loads(out) if m.split(".")[0] in HEAVY)
                self.assertEqual(heavy, [])

    def test_the_runtime_class_is_defined_where_the_settings_name_it(self) -> None:
        module, _, name = mlserver_cli.RUNTIME_CLASS.rpartition(".")
        self.assertEqual(module, "tinyserve.mlserver")
        self.assertIn(name, runtime_classes())

    def test_extra_requirements_match_setup_cfg(self) -> None:
        config = configparser.ConfigParser()
        config.read(os.path.join(REPO, "setup.cfg"))
        declared = [line.strip() for line in
                    config["options.extras_require"]["mlserver"].splitlines() if line.strip()]
        self.assertEqual(list(mlserver_cli.REQUIREMENTS), declared)


def runtime_classes() -> List[str]:
    """Classes of tinyserve/mlserver.py that subclass ``MLModel`` (read, not imported: the test
    venv has no MLServer)."""
    with open(os.path.join(REPO, "tinyserve", "mlserver.py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)
            and any(getattr(base, "id", None) == "MLModel" for base in node.bases)]


class DockerContextTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="tinyserve-test-mlserver-docker-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.context = os.path.join(self.tmp, "context")

    def generate(self, model: str, *flags: str, expect: int = 0):
        result = run_cli("generate-dockerfile", "-m", model, "-d", self.context,
                         "--enable-mlserver", *flags)
        self.assertEqual(result.returncode, expect, result.stderr.decode())
        return result

    def test_image_serves_through_mlserver_on_8080_with_grpc_and_metrics_next_to_it(self) -> None:
        self.generate(EXAMPLE_MODEL)
        with open(os.path.join(self.context, "Dockerfile"), encoding="utf-8") as handle:
            text = handle.read()
        entrypoint = json.loads(only(text, "ENTRYPOINT")[0])
        self.assertEqual(entrypoint, ["python", "-m", "tinyserve", "serve", "-m", "model",
                                      "--enable-mlserver"])
        self.assertEqual(only(text, "EXPOSE"), ["8080 8081 8082"])
        self.assertEqual(env_of(text)["MLFLOW_PORT"], "8080")
        self.assertEqual(env_of(text)["MLFLOW_HOST"], "0.0.0.0")
        self.assertEqual(instructions(text)[0], ("FROM", "python:3.11.7-slim"))

    def test_requirements_add_the_mlserver_extra(self) -> None:
        self.generate(fixture("sk_skops"))
        with open(os.path.join(self.context, "requirements.txt"), encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        names = [line.split("<")[0].split(">")[0] for line in lines]
        self.assertIn("mlserver", names)
        self.assertIn("uvloop", names)
        uvloop = next(line for line in lines if line.startswith("uvloop"))
        self.assertIn("<0.22", uvloop)

    def test_model_python_outside_mlserver_range_needs_a_base_image(self) -> None:
        model = os.path.join(self.tmp, "model")
        shutil.copytree(fixture("sk_skops"), model)
        with open(os.path.join(model, "python_env.yaml"), "w", encoding="utf-8") as handle:
            handle.write("python: 3.13.1\nbuild_dependencies: []\ndependencies: []\n")
        one_line_error(self, self.generate(model, expect=2), 2, "--base-image python:3.12-slim")
        self.generate(model, "--base-image", "python:3.12-slim")

    def test_without_the_flag_the_image_is_unchanged(self) -> None:
        result = run_cli("generate-dockerfile", "-m", fixture("sk_skops"), "-d", self.context)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        with open(os.path.join(self.context, "Dockerfile"), encoding="utf-8") as handle:
            text = handle.read()
        self.assertNotIn("--enable-mlserver", only(text, "ENTRYPOINT")[0])
        self.assertEqual(only(text, "EXPOSE"), ["8080"])
        with open(os.path.join(self.context, "requirements.txt"), encoding="utf-8") as handle:
            self.assertNotIn("mlserver", handle.read())


if __name__ == "__main__":
    unittest.main()
