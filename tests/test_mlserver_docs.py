"""The KServe and Seldon Core examples in docs/: they parse, name the runtime class that
exists, hand tinyserve flags it accepts, and, with MLServer at hand (TINYSERVE_MLSERVER_PYTHON),
the ServingRuntime's container and the model-settings.json serve a model on this host."""
from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
import unittest
from typing import Any, Dict, List

import yaml

from tests.mlserver_support import (MLSERVER_PYTHON, NEEDS_MLSERVER, MLServerProcess,
                                    run_in_mlserver_python)
from tests.support import EXAMPLE_MODEL, REPO, free_port, request
from tests.test_mlserver import runtime_classes
from tinyserve import mlserver_cli
from tinyserve.cli import build_parser

DOCS = os.path.join(REPO, "docs")
RUNTIME = mlserver_cli.RUNTIME_CLASS
KINDS = {  # file -> the resources it must hold, in order
    "kserve/servingruntime.yaml": [("serving.kserve.io/v1alpha1", "ServingRuntime"),
                                   ("serving.kserve.io/v1beta1", "InferenceService")],
    "kserve/inferenceservice-image.yaml": [("serving.kserve.io/v1beta1", "InferenceService")],
    "seldon-core/seldondeployment.yaml": [("machinelearning.seldon.io/v1", "SeldonDeployment")],
    "seldon-core/seldon-core-2.yaml": [("mlops.seldon.io/v1alpha1", "Server"),
                                       ("mlops.seldon.io/v1alpha1", "Model")],
}
SETTINGS_FILE = os.path.join(DOCS, "seldon-core", "model-settings.json")
IRIS_SPLIT = json.dumps({"dataframe_split": {
    "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
    "data": [[5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5]]}}).encode()
IMPORTS_RUNTIME = ("import importlib.util, sys, mlserver, tinyserve.mlserver as m\n"
                   "assert issubclass(m.TinyserveRuntime, mlserver.MLModel)\n"
                   "print(importlib.util.find_spec('mlflow') is None, 'mlflow' in sys.modules)")


def documents(name: str) -> List[Dict[str, Any]]:
    with open(os.path.join(DOCS, name), encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def container(doc: Dict[str, Any]) -> Dict[str, Any]:
    if doc["kind"] == "ServingRuntime":
        return doc["spec"]["containers"][0]
    if doc["kind"] == "SeldonDeployment":
        return doc["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]
    return doc["spec"]["predictor"]["containers"][0]


def env_of(spec: Dict[str, Any]) -> Dict[str, str]:
    return {item["name"]: str(item["value"]) for item in spec.get("env", [])}


class DocsTest(unittest.TestCase):
    def test_every_example_parses_into_the_expected_resources(self) -> None:
        found = sorted(os.path.relpath(path, DOCS)
                       for path in glob.glob(os.path.join(DOCS, "**", "*.yaml"), recursive=True))
        self.assertEqual(found, sorted(KINDS))
        for name, kinds in KINDS.items():
            with self.subTest(name=name):
                docs = documents(name)
                self.assertEqual([(d["apiVersion"], d["kind"]) for d in docs], kinds)
                for doc in docs:
                    self.assertTrue(doc["metadata"]["name"])

    def test_every_example_names_the_runtime_class_that_exists(self) -> None:
        module, _, name = RUNTIME.rpartition(".")
        self.assertEqual(module, "tinyserve.mlserver")
        self.assertIn(name, runtime_classes())
        for path in [*KINDS, os.path.relpath(SETTINGS_FILE, DOCS)]:
            with self.subTest(path=path):
                with open(os.path.join(DOCS, path), encoding="utf-8") as handle:
                    self.assertIn(RUNTIME, handle.read())

    def test_serving_runtime_configures_mlserver_with_the_runtime_class(self) -> None:
        runtime, service = documents("kserve/servingruntime.yaml")
        spec = container(runtime)
        env = env_of(spec)
        self.assertEqual(env["MLSERVER_MODEL_IMPLEMENTATION"], RUNTIME)
        self.assertEqual(env["MLSERVER_MODEL_URI"], "/mnt/models")
        self.assertEqual(spec["ports"][0]["containerPort"], int(env["MLSERVER_HTTP_PORT"]))
        self.assertEqual(spec["readinessProbe"]["httpGet"]["path"], "/v2/models/{{.Name}}/ready")
        self.assertEqual(service["spec"]["predictor"]["model"]["runtime"],
                         runtime["metadata"]["name"])
        self.assertEqual(service["spec"]["predictor"]["model"]["modelFormat"]["name"],
                         runtime["spec"]["supportedModelFormats"][0]["name"])

    def test_image_examples_give_flags_tinyserve_accepts(self) -> None:
        table = [("kserve/inferenceservice-image.yaml", 8080, 8081, "iris", 2),
                 ("seldon-core/seldondeployment.yaml", 9000, 9500, "iris", 2)]
        image_env = {"MLFLOW_PORT": "8080", "MLFLOW_HOST": "0.0.0.0"}  # the Dockerfile's
        for name, http, grpc, model, workers in table:
            with self.subTest(name=name):
                spec = container(documents(name)[0])
                argv = ["serve", "-m", "model", "--enable-mlserver", *spec.get("args", [])]
                config = mlserver_cli.build_config(build_parser().parse_args(argv),
                                                   {**image_env, **env_of(spec)})
                server = config["server"]
                self.assertEqual((server["http_port"], server["grpc_port"], config["model"]["name"],
                                  server["parallel_workers"]), (http, grpc, model, workers))
                ports = [port["containerPort"] for port in spec.get("ports", [])]
                self.assertTrue(ports == [] or ports == [http], ports)

    def test_model_settings_file_names_the_folder_itself(self) -> None:
        with open(SETTINGS_FILE, encoding="utf-8") as handle:
            settings = json.load(handle)
        self.assertEqual((settings["implementation"], settings["parameters"]["uri"]),
                         (RUNTIME, "."))


@NEEDS_MLSERVER
class DocsServeTest(unittest.TestCase):
    """The examples' MLServer configuration, run with stock ``mlserver start`` on this host."""

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="tinyserve-test-mlserver-docs-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.mlserver = os.path.join(os.path.dirname(str(MLSERVER_PYTHON)), "mlserver")

    def serve(self, folder: str, env: Dict[str, str]) -> MLServerProcess:
        base = {k: v for k, v in os.environ.items() if not k.startswith("MLSERVER")}
        base.update(env)
        base.update({"MLSERVER_HOST": "127.0.0.1", "MLSERVER_HTTP_PORT": "{port}",
                     "MLSERVER_GRPC_PORT": str(free_port()), "MLSERVER_METRICS_PORT":
                     str(free_port()), "MLSERVER_ENVIRONMENTS_DIR": self.tmp + "/envs",
                     "MLSERVER_METRICS_DIR": self.tmp + "/metrics", "MLSERVER_DEBUG": "false"})
        port = free_port()
        base = {k: v.replace("{port}", str(port)) for k, v in base.items()}
        server = MLServerProcess([self.mlserver, "start", folder], base, cwd=self.tmp, port=port)
        self.addCleanup(server.stop)
        return server

    def check_serving(self, server: MLServerProcess, name: str) -> None:
        server.wait_ready(f"/v2/models/{name}/ready")
        reply = request(server.port, "POST", "/invocations", IRIS_SPLIT,
                        {"Content-Type": "application/json"})
        self.assertEqual((reply.status, reply.json()), (200, {"predictions": ["setosa",
                                                                              "virginica"]}))
        status, output = server.stop()
        self.assertEqual(status, 0, output[-3000:])
        self.assertNotIn("Traceback", output)

    def test_the_runtime_class_imports_in_the_mlserver_python_which_has_no_mlflow(self) -> None:
        done = run_in_mlserver_python(IMPORTS_RUNTIME)
        self.assertEqual(done.returncode, 0, done.stderr)
        no_mlflow_installed, mlflow_imported = done.stdout.split()
        self.assertEqual(mlflow_imported, "False", "importing the runtime imported mlflow")
        self.assertEqual(no_mlflow_installed, "True",
                         "the MLServer venv must not have MLflow: the engine serves without it")

    def test_serving_runtime_container_serves_a_model_directory(self) -> None:
        runtime, _ = documents("kserve/servingruntime.yaml")
        spec = container(runtime)
        models = os.path.join(self.tmp, "mnt-models")  # what the storage initializer fills
        shutil.copytree(EXAMPLE_MODEL, models)
        env = {k: v.replace("/mnt/models", models).replace("{{.Name}}", "iris")
               for k, v in env_of(spec).items()}
        self.assertEqual(spec["command"], ["mlserver", "start", "/mnt/models"])
        self.check_serving(self.serve(models, env), "iris")

    def test_model_settings_file_serves_the_folder_it_sits_in(self) -> None:
        repository = os.path.join(self.tmp, "models")
        folder = os.path.join(repository, "iris")
        shutil.copytree(EXAMPLE_MODEL, folder)
        shutil.copy(SETTINGS_FILE, folder)
        self.check_serving(self.serve(repository, {}), "iris")


if __name__ == "__main__":
    unittest.main()
