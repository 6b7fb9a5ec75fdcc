"""MLServer with tinyserve's runtime, run for real (``serve --enable-mlserver``).

Needs a Python with MLServer (``TINYSERVE_MLSERVER_PYTHON``; ``.ci/run`` sets up
``.venvs/mlserver``, without MLflow) and is skipped with that reason without one. Covered:
the compatibility corpus answered like tinyserve's own server, V2 inference over REST and
gRPC, readiness, parallel workers with adaptive batching, V2 encodings, load failures, and the
``generate-dockerfile --enable-mlserver`` entrypoint. About 2 to 2.5 minutes on a shared
2-CPU machine, most of it the corpus (26 pairs of servers).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Sequence

from tests.mlserver_corpus import compare_engines, engine_cases, report
from tests.mlserver_support import (MLSERVER_PYTHON, NEEDS_MLSERVER, MLServerProcess,
                                    children_of, run_in_mlserver_python)
from tests.support import EXAMPLE_MODEL, SUMMARY_LINES, child_env, fixture, free_port, request
from tests.test_cli import one_line_error
from tests.test_docker import env_of, only

JSON = {"Content-Type": "application/json"}
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [7.0, 3.2, 4.7, 1.4], [6.3, 3.3, 6.0, 2.5],
             [4.9, 3.0, 1.4, 0.2], [6.4, 3.2, 4.5, 1.5], [5.8, 2.7, 5.1, 1.9],
             [5.0, 3.6, 1.4, 0.2], [5.5, 2.3, 4.0, 1.3]]
IRIS_LABELS = ["setosa", "versicolor", "virginica", "setosa", "versicolor", "virginica",
               "setosa", "versicolor"]
# The corpus cases where MLServer answers before tinyserve's app sees the request: a wrong
# method on /invocations (FastAPI's 405) and a trailing slash (FastAPI's 307). Status, Allow,
# Location and body agree; only tinyserve's X-Request-ID header is missing.
NO_REQUEST_ID = frozenset({"ep.get_invocations", "ep.put_invocations", "ep.delete_invocations",
                           "ep.head_invocations", "ep.options_invocations",
                           "ep.post_invocations_slash"})

GRPC_CLIENT = """
import json, sys
import grpc
from mlserver.grpc import dataplane_pb2 as pb, dataplane_pb2_grpc as rpc
from mlserver.grpc.converters import ModelInferRequestConverter, ModelInferResponseConverter
from mlserver.types import InferenceRequest
port, name, body = sys.argv[1:]
with grpc.insecure_channel("127.0.0.1:" + port) as channel:
    stub = rpc.GRPCInferenceServiceStub(channel)
    seen = {"server_ready": stub.ServerReady(pb.ServerReadyRequest(), timeout=30).ready,
            "model_ready": stub.ModelReady(pb.ModelReadyRequest(name=name), timeout=30).ready}
    metadata = stub.ModelMetadata(pb.ModelMetadataRequest(name=name), timeout=30)
    seen["inputs"] = [[t.name, t.datatype, list(t.shape)] for t in metadata.inputs]
    request = ModelInferRequestConverter.from_types(
        InferenceRequest.model_validate_json(body), model_name=name, model_version=None)
    reply = stub.ModelInfer(request, timeout=30)
    seen["infer"] = json.loads(ModelInferResponseConverter.to_types(reply).model_dump_json())
print(json.dumps(seen))
"""


def split_body(rows: Sequence[Sequence[float]]) -> bytes:
    return json.dumps({"dataframe_split": {"columns": IRIS_COLUMNS, "data": rows}}).encode()


def v2_body(rows: Sequence[Sequence[float]], **parameters: Any) -> bytes:
    inputs = [{"name": name, "shape": [len(rows), 1], "datatype": "FP64",
               "data": [row[index] for row in rows]} for index, name in enumerate(IRIS_COLUMNS)]
    body: Dict[str, Any] = {"inputs": inputs}
    if parameters:
        body["parameters"] = parameters
    return json.dumps(body).encode()


@NEEDS_MLSERVER
class CorpusTest(unittest.TestCase):
    def test_mlserver_answers_the_corpus_like_tinyserve_own_server(self) -> None:
        cases, skipped = engine_cases()
        judged = compare_engines(cases, progress=lambda line: print("mlserver:", line,
                                                                    flush=True))
        named = [r for r in judged if r.problem == "x-request-id missing"
                 and r.case.id in NO_REQUEST_ID]
        problems = [r for r in judged if r.problem and r.case.id not in NO_REQUEST_ID]
        text = report(problems)
        SUMMARY_LINES.append(f"mlserver engine vs tinyserve server: {len(judged) - len(problems)}"
                             f"/{len(judged)} agree ({len(named)} with the named difference "
                             "'no X-Request-ID on FastAPI's own 405/307')")
        self.assertEqual(problems, [], text)
        self.assertEqual(sorted(r.case.id for r in named), sorted(NO_REQUEST_ID),
                         "the named difference no longer applies to all its cases")
        self.assertEqual(skipped, {})


@NEEDS_MLSERVER
class WorkersAndBatchingTest(unittest.TestCase):
    """The example model with two parallel workers and adaptive batching."""

    server: MLServerProcess

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = MLServerProcess.serve(EXAMPLE_MODEL, "--max-batch-size", "8",
                                           "--max-batch-time", "0.01", workers=2).wait_ready()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def post(self, path: str, body: bytes):
        return request(self.server.port, "POST", path, body, JSON)

    def test_readiness_endpoints_answer_once_the_model_is_loaded(self) -> None:
        for path, status in (("/v2/health/live", 200), ("/v2/health/ready", 200),
                             ("/v2/models/m/ready", 200), ("/ping", 200), ("/health", 200),
                             ("/v2/models/other/ready", 404)):
            with self.subTest(path=path):
                self.assertEqual(request(self.server.port, "GET", path).status, status)

    def test_two_worker_processes_serve_the_model(self) -> None:
        workers = []
        for pid in children_of(self.server.process.pid):
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"spawn_main" in handle.read():
                    workers.append(pid)
        self.assertEqual(len(workers), 2, workers)

    def test_concurrent_v2_requests_each_get_their_own_rows_back(self) -> None:
        bodies = [v2_body([row]) for row in IRIS_ROWS] * 2
        with ThreadPoolExecutor(len(bodies)) as pool:
            replies = list(pool.map(lambda body: self.post("/v2/models/m/infer", body), bodies))
        for index, reply in enumerate(replies):
            with self.subTest(index=index):
                self.assertEqual(reply.status, 200, reply.body)
                output, = reply.json()["outputs"]
                self.assertEqual(output["data"], [IRIS_LABELS[index % len(IRIS_ROWS)]])
        self.assertIn("Adaptive Batching is enabled for model 'm'", self.server.output())

    def test_concurrent_invocations_answer_like_tinyserve(self) -> None:
        bodies = [split_body(IRIS_ROWS[i:i + 2]) for i in range(0, len(IRIS_ROWS), 2)] * 2
        with ThreadPoolExecutor(len(bodies)) as pool:
            replies = list(pool.map(lambda body: self.post("/invocations", body), bodies))
        for index, reply in enumerate(replies):
            with self.subTest(index=index):
                first = (index % 4) * 2
                self.assertEqual(reply.status, 200, reply.body)
                self.assertEqual(reply.json(), {"predictions": IRIS_LABELS[first:first + 2]})

    def test_v2_metadata_follows_the_signature(self) -> None:
        reply = request(self.server.port, "GET", "/v2/models/m")
        self.assertEqual(reply.status, 200, reply.body)
        metadata = reply.json()
        self.assertEqual([(t["name"], t["datatype"], t["shape"], t["parameters"]["content_type"])
                          for t in metadata["inputs"]],
                         [(name, "FP64", [-1, 1], "np") for name in IRIS_COLUMNS])
        self.assertEqual(metadata["outputs"], [{"name": "output-0", "datatype": "BYTES",
                                                "shape": [-1, 1],
                                                "parameters": {"content_type": "str"}}])
        self.assertEqual(metadata["parameters"], {"content_type": "pd"})

    def test_v2_schema_errors_keep_tinyserve_message_and_status_through_a_worker(self) -> None:
        body = json.dumps({"inputs": [{"name": "sepal_length", "shape": [1, 1],
                                       "datatype": "FP64", "data": [5.1]}]}).encode()
        reply = self.post("/v2/models/m/infer", body)
        self.assertEqual(reply.status, 400, reply.body)
        self.assertIn("Model is missing inputs ['sepal_width', 'petal_length', 'petal_width']",
                      reply.json()["error"])

    def test_v2_over_grpc(self) -> None:
        done = run_in_mlserver_python(GRPC_CLIENT, str(self.server.grpc_port), "m",
                                      v2_body(IRIS_ROWS[:3]).decode())
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        seen = json.loads(done.stdout)
        self.assertTrue(seen["server_ready"] and seen["model_ready"])
        self.assertEqual(seen["inputs"], [[name, "FP64", [-1, 1]] for name in IRIS_COLUMNS])
        output, = seen["infer"]["outputs"]
        self.assertEqual((output["datatype"], output["shape"]), ("BYTES", [3, 1]))
        self.assertEqual(output["data"], IRIS_LABELS[:3])


@NEEDS_MLSERVER
class V2EncodingTest(unittest.TestCase):
    """What each kind of model input and prediction looks like over V2 REST."""

    def serve(self, model: str) -> MLServerProcess:
        server = MLServerProcess.serve(fixture(model)).wait_ready()
        self.addCleanup(server.stop)
        return server

    def infer(self, server: MLServerProcess, body: Dict[str, Any]):
        return request(server.port, "POST", "/v2/models/m/infer", json.dumps(body).encode(),
                       JSON)

    def test_tensor_models_decode_to_arrays_and_dicts_of_arrays(self) -> None:
        table = [
            ("pyfunc_tensor", {"inputs": [{"name": "input-0", "shape": [2, 2], "datatype": "FP32",
                                           "data": [1, 2, 3, 4]}]}, "ndarray", "float32"),
            ("pyfunc_named_tensor", {"inputs": [
                {"name": "a", "shape": [2, 2], "datatype": "FP64", "data": [1, 2, 3, 4]},
                {"name": "b", "shape": [2], "datatype": "INT64", "data": [5, 6]}]},
             "dict", "int64"),
        ]
        for model, body, kind, dtype in table:
            with self.subTest(model=model):
                reply = self.infer(self.serve(model), body)
                self.assertEqual(reply.status, 200, reply.body)
                outputs = {o["name"]: o for o in reply.json()["outputs"]}
                described = json.loads(outputs["input"]["data"][0])
                self.assertEqual(described["type"], kind)
                self.assertIn(dtype, json.dumps(described))

    def test_predictions_of_every_kind_become_tensors(self) -> None:
        server = self.serve("pyfunc_params")
        table = [  # kind param -> (status, [(name, datatype, shape, data)])
            ("np_int", 200, [("output-1", "INT64", [3, 1], [1, 2, 3])]),
            ("float_special", 200, [("output-1", "FP64", [4, 1], [1.0, None, None, None])]),
            ("string", 200, [("output-1", "BYTES", [1, 1], ["caf\u00e9"])]),
            ("bytes_array", 200, [("output-1", "BYTES", [2, 1], ["ab", "cde"])]),
            ("datetime_s", 200, [("output-1", "BYTES", [2, 1],
                                  ["2024-01-02T03:04:05", "2024-02-03T00:00:00"])]),
            ("mixed_list", 200, [("output-1", "BYTES", [5, 1],
                                  ["1", "two", "3.0", "null", "true"])]),
            ("df_nan", 200, [("a", "INT64", [2, 1], [1, 2]),
                             ("b", "BYTES", [2, 1], ['"x"', "null"]),
                             ("c", "FP64", [2, 1], [1.5, None])]),
            ("dict", 200, [("x", "INT64", [2, 1], [1, 2]), ("y", "BYTES", [1, 1], ["z"]),
                           ("n", "FP64", [1, 1], [None])]),
            ("raise_value", 400, []),
            ("raise_mlflow", 404, []),
        ]
        for kind, status, outputs in table:
            with self.subTest(kind=kind):
                reply = self.infer(server, {"parameters": {"kind": kind}, "inputs": [
                    {"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [1.5]}]})
                self.assertEqual(reply.status, status, reply.body)
                if status != 200:
                    self.assertIn("error", reply.json())
                    continue
                found = [(o["name"], o["datatype"], o["shape"], o["data"])
                         for o in reply.json()["outputs"]]
                self.assertEqual(found, outputs)

    def test_params_reach_the_model_as_in_invocations(self) -> None:
        server = self.serve("pyfunc_params")
        reply = self.infer(server, {"parameters": {"kind": "echo", "max_tokens": 3},
                                    "inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64",
                                                "data": [1.5]}]})
        self.assertEqual(reply.status, 200, reply.body)
        params = json.loads({o["name"]: o for o in reply.json()["outputs"]}["params"]["data"][0])
        self.assertEqual((params["kind"], params["max_tokens"]), ("'echo'", "3"))
        wrong = self.infer(server, {"parameters": {"max_tokens": "many"}, "inputs": [
            {"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [1.5]}]})
        self.assertEqual(wrong.status, 400, wrong.body)
        self.assertIn("max_tokens", wrong.json()["error"])


@NEEDS_MLSERVER
class LifecycleTest(unittest.TestCase):
    def test_a_model_that_does_not_load_exits_1_in_one_line_before_mlserver_starts(self) -> None:
        with tempfile.TemporaryDirectory() as broken:
            with open(os.path.join(broken, "MLmodel"), "w", encoding="utf-8") as handle:
                handle.write("flavors:\n  python_function:\n    loader_module: no.such.loader\n")
            result = subprocess.run(
                [str(MLSERVER_PYTHON), "-m", "tinyserve", "serve", "-m", broken,
                 "--enable-mlserver", "-p", str(free_port())],
                capture_output=True, env=child_env(), timeout=120)
        one_line_error(self, result, 1, "no.such.loader")
        self.assertNotIn(b"[mlserver", result.stderr)

    def test_a_model_that_fails_inside_mlserver_exits_1_not_0(self) -> None:
        config = {"server": {"host": "127.0.0.1", "http_port": free_port(),
                             "grpc_port": free_port(), "metrics_endpoint": None,
                             "parallel_workers": 0, "debug": False},
                  "model": {"name": "m", "implementation": "tinyserve.mlserver.TinyserveRuntime",
                            "parameters": {"uri": fixture("no_such_model")}}}
        result = subprocess.run([str(MLSERVER_PYTHON), "-m", "tinyserve.mlserver_main",
                                 json.dumps(config)], capture_output=True, env=child_env(),
                                timeout=120)
        one_line_error(self, result, 1, "MLServer could not load the model 'm'")

    def test_sigterm_stops_the_server_with_exit_0(self) -> None:
        server = MLServerProcess.serve(fixture("sk_skops")).wait_ready()
        status, output = server.stop()
        self.assertEqual(status, 0, output[-3000:])

    def test_sigterm_with_workers_answers_the_requests_in_flight_then_exits_0(self) -> None:
        server = MLServerProcess.serve(fixture("pyfunc_params"), workers=1).wait_ready()
        self.addCleanup(server.stop)
        slow = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1]]},
                           "params": {"kind": "sleep", "temperature": 1.5}}).encode()
        with ThreadPoolExecutor(2) as pool:
            replies = [pool.submit(request, server.port, "POST", "/invocations", slow, JSON)
                       for _ in range(2)]
            time.sleep(0.5)  # both predictions are running in the worker
            status, output = server.stop()  # SIGKILL (-9) after 30 s if it hangs
            answers = [(reply.result().status, reply.result().json()) for reply in replies]
        self.assertEqual(answers, [(200, {"predictions": "slept"})] * 2)
        self.assertEqual(status, 0, output[-3000:])

    def test_busy_port_is_one_line_exit_1(self) -> None:
        import socket

        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            result = subprocess.run(
                [str(MLSERVER_PYTHON), "-m", "tinyserve", "serve", "-m", fixture("sk_skops"),
                 "--enable-mlserver", "-p", str(free_port()), "--grpc-port", str(port)],
                capture_output=True, env=child_env(), timeout=120)
        one_line_error(self, result, 1, f"Cannot listen on 127.0.0.1:{port} (gRPC)")


@NEEDS_MLSERVER
class DockerEntrypointTest(unittest.TestCase):
    """The ``generate-dockerfile --enable-mlserver`` entrypoint, run on this host from the
    context directory with the MLServer venv's Python standing in for the image's."""

    def test_entrypoint_serves_through_mlserver_and_the_healthcheck_passes(self) -> None:
        from tests.support import run_cli

        scratch = tempfile.mkdtemp(prefix="tinyserve-test-mlserver-image-")
        self.addCleanup(shutil.rmtree, scratch, True)
        context = os.path.join(scratch, "context")
        made = run_cli("generate-dockerfile", "-m", EXAMPLE_MODEL, "-d", context,
                       "--enable-mlserver")
        self.assertEqual(made.returncode, 0, made.stderr.decode())
        with open(os.path.join(context, "Dockerfile"), encoding="utf-8") as handle:
            text = handle.read()
        argv = json.loads(only(text, "ENTRYPOINT")[0])
        env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
        env.update(env_of(text))  # PYTHONPATH=/opt/tinyserve: absent here, the cwd serves
        port = free_port()
        env.update({"MLFLOW_HOST": "127.0.0.1", "MLFLOW_PORT": str(port),
                    "MLSERVER_GRPC_PORT": str(free_port()), "TINYSERVE_METRICS": "0",
                    "MLSERVER_MODEL_NAME": "m"})
        server = MLServerProcess([str(MLSERVER_PYTHON), *argv[1:]], env, cwd=context, port=port)
        self.addCleanup(server.stop)
        server.wait_ready()
        self.assertIn(os.path.join(context, "model"), server.output())
        reply = request(port, "POST", "/invocations", split_body(IRIS_ROWS[:3]), JSON)
        self.assertEqual((reply.status, reply.json()), (200, {"predictions": IRIS_LABELS[:3]}))
        healthcheck = json.loads(only(text, "HEALTHCHECK")[0].split(" CMD ", 1)[1])
        checked = subprocess.run([str(MLSERVER_PYTHON), *healthcheck[1:]], env=env,
                                 capture_output=True, timeout=60)
        self.assertEqual(checked.returncode, 0, checked.stderr.decode())
        status, output = server.stop()
        self.assertEqual(status, 0, output[-3000:])


if __name__ == "__main__":
    unittest.main()
