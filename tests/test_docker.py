"""``generate-dockerfile`` and ``build-docker``, run for real: the context, the Dockerfile, and
the image's entrypoint command serving the model from the context directory on this host.

Long because the Dockerfile is checked instruction by instruction; build-docker's tests
are in test_docker_build.py.
"""
from __future__ import annotations

import configparser
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest
from typing import Dict, List, Optional, Tuple
from unittest import mock

from tests.support import (EXAMPLE_MODEL, REPO, ServerProcess, fixture, free_port, request,
                           run_cli)
from tests.test_cli import one_line_error

SKOPS_MODEL = fixture("sk_skops")
SKOPS_REQUEST = json.dumps({"dataframe_split": {"columns": ["a", "b"],
                                                "data": [[0.0, 1.0], [5.0, 2.0]]}}).encode()
IRIS_REQUEST = json.dumps({"dataframe_split": {
    "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
    "data": [[5.1, 3.5, 1.4, 0.2], [7.0, 3.2, 4.7, 1.4], [6.3, 3.3, 6.0, 2.5]]}}).encode()
JSON_HEADERS = {"Content-Type": "application/json"}


def instructions(dockerfile: str) -> List[Tuple[str, str]]:
    """``(KEYWORD, arguments)`` per instruction: continuations joined, comments skipped."""
    result: List[Tuple[str, str]] = []
    pending = ""
    for line in dockerfile.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + "\n"
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        pending = ""
    return result


def only(dockerfile: str, keyword: str) -> List[str]:
    return [arguments for found, arguments in instructions(dockerfile) if found == keyword]


def env_of(dockerfile: str) -> Dict[str, str]:
    env: Dict[str, str] = {}
    for arguments in only(dockerfile, "ENV"):
        for pair in arguments.split():
            name, _, value = pair.partition("=")
            env[name] = value
    return env


def read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


class ContextCase(unittest.TestCase):
    """A temporary directory per test; ``generate`` writes a context into it."""

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="tinyserve-test-docker-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.context = os.path.join(self.tmp, "context")

    def generate(self, model: str, *flags: str, expect: int = 0) -> subprocess.CompletedProcess:
        result = run_cli("generate-dockerfile", "-m", model, "-d", self.context, *flags)
        self.assertEqual(result.returncode, expect, result.stderr.decode())
        return result

    def dockerfile(self) -> str:
        return read(os.path.join(self.context, "Dockerfile"))

    def copy_model(self, model: str = SKOPS_MODEL) -> str:
        target = os.path.join(self.tmp, "models", os.path.basename(model))
        shutil.copytree(model, target)
        return target

    def wheelhouse(self) -> str:
        path = os.path.join(self.tmp, "wheelhouse")
        os.makedirs(path, exist_ok=True)
        for name in ("waitress-3.0.2-py3-none-any.whl", "skops-0.16.0.tar.gz"):
            with open(os.path.join(path, name), "wb") as handle:
                handle.write(name.encode())
        return path


class ContextLayoutTest(ContextCase):
    def test_context_holds_dockerfile_requirements_model_copy_and_tinyserve(self) -> None:
        self.generate(SKOPS_MODEL)
        self.assertEqual(sorted(os.listdir(self.context)),
                         ["Dockerfile", "model", "requirements.txt", "tinyserve"])
        for name in os.listdir(SKOPS_MODEL):
            with self.subTest(file=name):
                with open(os.path.join(SKOPS_MODEL, name), "rb") as original, \
                        open(os.path.join(self.context, "model", name), "rb") as copy:
                    self.assertEqual(original.read(), copy.read())
        package = os.path.join(self.context, "tinyserve")
        for name in ("__init__.py", "__main__.py", "cli.py", "server.py"):
            self.assertTrue(os.path.isfile(os.path.join(package, name)), name)
        copied = [os.path.join(root, name) for root, dirs, files in os.walk(package)
                  for name in dirs + files]
        self.assertFalse([path for path in copied if "__pycache__" in path or
                          path.endswith(".pyc")])

    def test_mlflow_lines_are_left_out_of_requirements_and_the_user_is_told(self) -> None:
        model = self.copy_model()
        with open(os.path.join(model, "requirements.txt"), "a", encoding="utf-8") as handle:
            handle.write("\nmlflow-skinny==3.17.2\nMLflow_Tracing>=3\n")
        result = self.generate(model)
        lines = read(os.path.join(self.context, "requirements.txt")).splitlines()
        for dropped in ("mlflow==3.17.2", "mlflow-skinny==3.17.2", "MLflow_Tracing>=3"):
            with self.subTest(line=dropped):
                self.assertNotIn(dropped, lines)
                self.assertIn(dropped, result.stderr.decode())
        for kept in ("scikit-learn==1.9.1", "skops==0.16.0", "numpy==2.4.6"):
            self.assertIn(kept, lines)
        names = {line.split(">")[0].split("=")[0].lower() for line in lines}
        self.assertTrue({"waitress", "numpy", "pandas", "cloudpickle"} <= names, lines)

    def test_dockerfile_instructions_for_the_default_options(self) -> None:
        self.generate(SKOPS_MODEL)
        text = self.dockerfile()
        env = env_of(text)
        cases = [
            ("FROM", ["python:3.11.7-slim"]),  # the model's python_env.yaml version
            ("WORKDIR", ["/opt/tinyserve"]),
            ("EXPOSE", ["8080"]),
            ("STOPSIGNAL", ["SIGTERM"]),
            ("USER", ["10001:10001"]),
            ("ENTRYPOINT", ['["python", "-m", "tinyserve", "serve", "-m", "model"]']),
        ]
        for keyword, expected in cases:
            with self.subTest(keyword=keyword):
                self.assertEqual(only(text, keyword), expected)
        for name, value in (("MLFLOW_HOST", "0.0.0.0"), ("MLFLOW_PORT", "8080"),
                            ("MLFLOW_MODELS_WORKERS", "1"),
                            ("MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT", "60"),
                            ("TINYSERVE_MAX_BODY_SIZE", str(100 * 1024 * 1024))):
            with self.subTest(env=name):
                self.assertEqual(env.get(name), value)
        self.assertIn("python -m pip install -r requirements.txt", only(text, "RUN"))
        self.assertNotIn("--no-index", text)
        self.assertNotIn("nginx", text)
        self.assertNotIn("mlflow==", text)

    def test_entrypoint_is_exec_form_without_host_port_worker_or_timeout_flags(self) -> None:
        self.generate(SKOPS_MODEL)
        entrypoint = json.loads(only(self.dockerfile(), "ENTRYPOINT")[0])
        self.assertIsInstance(entrypoint, list)
        for flag in ("-p", "--port", "-h", "--host", "-w", "--workers", "-t", "--timeout"):
            self.assertNotIn(flag, entrypoint)

    def test_the_server_runs_as_a_created_non_root_user(self) -> None:
        self.generate(SKOPS_MODEL)
        steps = instructions(self.dockerfile())
        keywords = [keyword for keyword, _ in steps]
        users = only(self.dockerfile(), "USER")
        self.assertEqual(users, ["10001:10001"])
        user_at = keywords.index("USER")
        creating = [index for index, (keyword, arguments) in enumerate(steps)
                    if keyword == "RUN" and "useradd --uid 10001" in arguments
                    and "adduser -u 10001" in arguments]
        self.assertEqual(len(creating), 1)
        last_build_step = max(index for index, keyword in enumerate(keywords)
                              if keyword in ("RUN", "COPY"))
        self.assertEqual(last_build_step, creating[0])
        self.assertLess(creating[0], user_at)
        self.assertLess(user_at, keywords.index("ENTRYPOINT"))

    def test_every_run_instruction_is_valid_shell(self) -> None:
        self.generate(SKOPS_MODEL, "--wheelhouse", self.wheelhouse())
        for command in only(self.dockerfile(), "RUN"):
            with self.subTest(command=command):
                checked = subprocess.run(["sh", "-n", "-c", command], capture_output=True)
                self.assertEqual(checked.returncode, 0, checked.stderr.decode())

    def test_files_unreadable_to_others_become_readable_in_the_context(self) -> None:
        model = self.copy_model()
        os.chmod(os.path.join(model, "model.skops"), 0o600)
        self.generate(model)
        mode = stat.S_IMODE(os.stat(os.path.join(self.context, "model", "model.skops")).st_mode)
        self.assertEqual(mode, 0o644)

    def test_relative_file_requirements_are_pointed_into_the_model_copy(self) -> None:
        model = self.copy_model()
        os.makedirs(os.path.join(model, "wheels"))
        open(os.path.join(model, "wheels", "extra-1.0-py3-none-any.whl"), "wb").close()
        open(os.path.join(model, "constraints.txt"), "w").close()
        with open(os.path.join(model, "requirements.txt"), "a", encoding="utf-8") as handle:
            handle.write("\nwheels/extra-1.0-py3-none-any.whl\n-c constraints.txt\n")
        self.generate(model)
        lines = read(os.path.join(self.context, "requirements.txt")).splitlines()
        self.assertIn("model/wheels/extra-1.0-py3-none-any.whl", lines)
        self.assertIn("-c model/constraints.txt", lines)

    def test_example_iris_model_context(self) -> None:
        self.generate(EXAMPLE_MODEL)
        self.assertEqual(only(self.dockerfile(), "FROM"), ["python:3.11.7-slim"])
        self.assertTrue(os.path.isfile(os.path.join(self.context, "model", "iris_model.py")))
        self.assertNotIn("mlflow==3.17.2",
                         read(os.path.join(self.context, "requirements.txt")).splitlines())


class ContextOptionsTest(ContextCase):
    def test_base_image_flag_replaces_the_default(self) -> None:
        self.generate(SKOPS_MODEL, "--base-image", "registry.example/python:3.12-slim")
        self.assertEqual(only(self.dockerfile(), "FROM"), ["registry.example/python:3.12-slim"])

    def test_without_python_env_the_running_python_version_is_used(self) -> None:
        model = self.copy_model()
        os.remove(os.path.join(model, "python_env.yaml"))
        self.generate(model)
        expected = "python:{}.{}-slim".format(*sys.version_info[:2])
        self.assertEqual(only(self.dockerfile(), "FROM"), [expected])

    def test_model_python_older_than_tinyserve_supports_is_refused(self) -> None:
        model = self.copy_model()
        with open(os.path.join(model, "python_env.yaml"), "w", encoding="utf-8") as handle:
            handle.write("python: 3.8.18\nbuild_dependencies:\n- pip\n")
        one_line_error(self, self.generate(model, expect=2), 2, "3.8.18", "--base-image")

    def test_wheelhouse_is_copied_and_pip_installs_offline_from_it(self) -> None:
        wheelhouse = self.wheelhouse()
        self.generate(SKOPS_MODEL, "--wheelhouse", wheelhouse)
        self.assertEqual(sorted(os.listdir(os.path.join(self.context, "wheelhouse"))),
                         sorted(os.listdir(wheelhouse)))
        text = self.dockerfile()
        self.assertIn("python -m pip install --no-index --find-links wheelhouse "
                      "-r requirements.txt", only(text, "RUN"))
        steps = instructions(text)
        copy_at = steps.index(("COPY", "wheelhouse ./wheelhouse"))
        install_at = [index for index, (keyword, arguments) in enumerate(steps)
                      if keyword == "RUN" and "pip install" in arguments]
        self.assertEqual(len(install_at), 1)
        self.assertLess(copy_at, install_at[0])

    def test_bad_wheelhouse_is_one_line_exit_1(self) -> None:
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty)
        for path, fragment in ((os.path.join(self.tmp, "none"), "Wheelhouse directory not found"),
                               (empty, "holds no wheels")):
            with self.subTest(fragment=fragment):
                one_line_error(self, self.generate(SKOPS_MODEL, "--wheelhouse", path, expect=1),
                               1, fragment)

    def test_rerun_replaces_an_earlier_context(self) -> None:
        self.generate(EXAMPLE_MODEL)
        self.generate(SKOPS_MODEL)
        self.assertFalse(os.path.exists(os.path.join(self.context, "model", "iris_model.py")))
        self.assertTrue(os.path.exists(os.path.join(self.context, "model", "model.skops")))

    def test_non_empty_foreign_directory_needs_force(self) -> None:
        os.makedirs(self.context)
        with open(os.path.join(self.context, "notes.txt"), "w", encoding="utf-8") as handle:
            handle.write("mine")
        one_line_error(self, self.generate(SKOPS_MODEL, expect=2), 2, "not empty", "--force")
        self.assertEqual(os.listdir(self.context), ["notes.txt"])
        self.generate(SKOPS_MODEL, "--force")
        self.assertTrue(os.path.isfile(os.path.join(self.context, "Dockerfile")))
        self.assertEqual(read(os.path.join(self.context, "notes.txt")), "mine")

    def test_output_directory_overlapping_the_model_is_refused(self) -> None:
        model = self.copy_model()
        for output in (os.path.join(model, "out"), os.path.dirname(model)):
            with self.subTest(output=output):
                result = run_cli("generate-dockerfile", "-m", model, "-d", output, "--force")
                one_line_error(self, result, 2, "overlaps the model directory")
        self.assertTrue(os.path.isfile(os.path.join(model, "model.skops")))


class FlagErrorsTest(ContextCase):
    def test_refused_flags_are_one_line_exit_2(self) -> None:
        cases = [
            (["--env-manager", "virtualenv"], "--env-manager virtualenv is not supported"),
            (["--env-manager", "conda"], "--env-manager conda is not supported"),
            (["--env-manager", "bogus"], "['local', 'virtualenv', 'uv', 'conda']"),
            (["--install-mlflow"], "--install-mlflow is not supported"),
            (["--mlflow-home", "."], "--mlflow-home is not supported"),
            (["--install-java", "true"], "--install-java is not supported"),
            (["--install-java", "maybe"], "'maybe' is not a valid boolean"),
            (["--base-image", "python:3.11 slim"], "Invalid --base-image"),
        ]
        for command in ("generate-dockerfile", "build-docker"):
            for flags, fragment in cases:
                with self.subTest(command=command, flags=flags):
                    result = run_cli(command, "-m", SKOPS_MODEL, "-d" if command ==
                                     "generate-dockerfile" else "-n", self.context, *flags)
                    one_line_error(self, result, 2, fragment)
        self.assertFalse(os.path.exists(self.context))

    def test_accepted_mlflow_flags_change_nothing(self) -> None:
        self.generate(SKOPS_MODEL)
        plain = self.dockerfile()
        for flags in (["--env-manager", "local"], ["--no-conda"], ["--install-java", "false"]):
            with self.subTest(flags=flags):
                self.generate(SKOPS_MODEL, *flags)
                self.assertEqual(self.dockerfile(), plain)

    def test_model_uri_is_required(self) -> None:
        for command in ("generate-dockerfile", "build-docker"):
            with self.subTest(command=command):
                result = run_cli(command, "-d" if command == "generate-dockerfile" else "-n", "x")
                self.assertEqual(result.returncode, 2)
                self.assertIn(b"-m/--model-uri", result.stderr)

    def test_bad_models_are_one_line_exit_1(self) -> None:
        no_pyfunc = self.copy_model()
        with open(os.path.join(no_pyfunc, "MLmodel"), encoding="utf-8") as handle:
            text = handle.read().replace("python_function:", "not_python_function:")
        with open(os.path.join(no_pyfunc, "MLmodel"), "w", encoding="utf-8") as handle:
            handle.write(text)
        for model, fragment in (("no/such/model", "Model directory not found"),
                                (self.tmp, "MLmodel"),
                                (no_pyfunc, "python_function")):
            with self.subTest(fragment=fragment):
                one_line_error(self, self.generate(model, expect=1), 1, fragment)


class DependenciesTest(unittest.TestCase):
    def test_fallback_dependencies_match_setup_cfg(self) -> None:
        from tinyserve.docker import FALLBACK_DEPENDENCIES

        config = configparser.ConfigParser()
        config.read(os.path.join(REPO, "setup.cfg"))
        declared = [line.strip() for line in config["options"]["install_requires"].splitlines()
                    if line.strip()]
        self.assertEqual(list(FALLBACK_DEPENDENCIES), declared)

    def test_installed_metadata_gives_base_dependencies_without_extras(self) -> None:
        from tinyserve import docker

        requires = ["waitress>=2.1", "numpy>=1.21", 'skops; extra == "sklearn"',
                    "pyarrow ; extra=='parquet'"]
        with mock.patch.object(docker.importlib.metadata, "requires", return_value=requires):
            self.assertEqual(docker.tinyserve_dependencies(), ["waitress>=2.1", "numpy>=1.21"])


class ContextServer(ServerProcess):
    """The Dockerfile's entrypoint, run on this host from the context directory."""

    def __init__(self, argv: List[str], cwd: str, env: Dict[str, str], port: int) -> None:
        self.port = port
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)


class EntrypointServesTest(ContextCase):
    """The image's command, with this Python standing in for the image's ``python``."""

    def run_entrypoint(self, extra_env: Optional[Dict[str, str]] = None) -> ContextServer:
        text = self.dockerfile()
        argv = json.loads(only(text, "ENTRYPOINT")[0])
        self.assertEqual(argv[0], "python")
        port = free_port()
        env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
        env.update(env_of(text))  # PYTHONPATH=/opt/tinyserve: absent here, the cwd serves
        env.update({"MLFLOW_HOST": "127.0.0.1", "MLFLOW_PORT": str(port), **(extra_env or {})})
        server = ContextServer([sys.executable, *argv[1:]], self.context, env, port)
        self.addCleanup(lambda: server.process.poll() is None and server.stop())
        server.wait_ready()
        return server

    def test_entrypoint_serves_the_model_copy_and_exits_0_on_sigterm(self) -> None:
        cases = [
            (SKOPS_MODEL, SKOPS_REQUEST, {"predictions": [0, 1]}, {}),
            (SKOPS_MODEL, SKOPS_REQUEST, {"predictions": [0, 1]}, {"MLFLOW_MODELS_WORKERS": "2"}),
            (EXAMPLE_MODEL, IRIS_REQUEST,
             {"predictions": ["setosa", "versicolor", "virginica"]}, {}),
        ]
        for model, body, expected, extra_env in cases:
            with self.subTest(model=os.path.basename(model), env=extra_env):
                self.generate(model)
                server = self.run_entrypoint(extra_env)
                reply = request(server.port, "POST", "/invocations", body, JSON_HEADERS)
                self.assertEqual(reply.status, 200, reply.body)
                self.assertEqual(reply.json(), expected)
                status, output = server.stop()
                self.assertEqual(status, 0, output)

    def test_healthcheck_command_passes_against_the_running_server(self) -> None:
        self.generate(SKOPS_MODEL)
        server = self.run_entrypoint()
        healthcheck = only(self.dockerfile(), "HEALTHCHECK")[0]
        argv = json.loads(healthcheck.split(" CMD ", 1)[1])
        env = dict(os.environ, MLFLOW_PORT=str(server.port))
        checked = subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True)
        self.assertEqual(checked.returncode, 0, checked.stderr.decode())
        server.stop()
        failed = subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True)
        self.assertNotEqual(failed.returncode, 0)

    def test_context_imports_tinyserve_from_its_own_copy(self) -> None:
        self.generate(SKOPS_MODEL)
        env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
        found = subprocess.run([sys.executable, "-c", "import tinyserve; print(tinyserve.__file__)"],
                               cwd=self.context, env=env, capture_output=True, text=True)
        self.assertEqual(found.returncode, 0, found.stderr)
        self.assertEqual(os.path.realpath(found.stdout.strip()),
                         os.path.realpath(os.path.join(self.context, "tinyserve", "__init__.py")))


if __name__ == "__main__":
    unittest.main()
