"""``runs:/`` and ``models:/`` URIs end to end: stores MLflow filled, tinyserve without MLflow.

A separate Python with MLflow 3.17 (TINYSERVE_MLFLOW_PYTHON) logs and registers models into a
SQLite store, a file store and a real ``mlflow server`` (``tests/stores/populate.py``), and
records what ``mlflow.pyfunc.load_model(uri).predict`` gives for every URI form. tinyserve's
``predict`` command, run in this environment (no MLflow), must give the same predictions.
Skipped with that reason when TINYSERVE_MLFLOW_PYTHON is unset.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import unittest
from typing import Dict, Optional

from tests.stores.fill import mlflow_python, populate
from tests.stores.mlflow_server import MlflowServer
from tests.support import request, run_cli, start_tinyserve
from tests.test_cli import one_line_error

class StoreCase(unittest.TestCase):
    """One populated store per class; ``predict(uri)`` runs tinyserve against it."""

    workdir = ""
    manifest: dict = {}
    env: Dict[str, str] = {}

    @classmethod
    def make_store(cls, python: str) -> None:
        raise NotImplementedError

    @classmethod
    def setUpClass(cls) -> None:
        python = mlflow_python("fill stores with")
        cls.workdir = tempfile.mkdtemp(prefix="tinyserve-test-uris-")
        cls.cache = os.path.join(cls.workdir, "cache")
        try:
            cls.make_store(python)
        except BaseException:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def predict(self, uri: str, env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None
                ) -> subprocess.CompletedProcess:
        """``tinyserve predict -m URI`` on the manifest's CSV, from the store's directory."""
        return run_cli("predict", "-m", uri, "-t", "csv", "--cache-dir", self.cache,
                       input_bytes=self.manifest["input_csv"].encode(),
                       env=dict(self.env, **(env or {})), cwd=cwd or self.workdir)

    def assert_same_predictions_as_mlflow(self) -> None:
        self.assertGreaterEqual(len(self.manifest["expected"]), 7)
        for uri, expected in self.manifest["expected"].items():
            with self.subTest(uri=uri):
                result = self.predict(uri)
                self.assertEqual(result.returncode, 0, result.stderr.decode())
                self.assertEqual(json.loads(result.stdout), {"predictions": expected})


class NotFoundMessagesMixin:
    """Each missing thing is named, with the store tinyserve looked in; exit 1, one line."""

    where = ""

    def test_missing_things_are_named(self) -> None:
        name = self.manifest["registered_name"]
        cases = [
            ("runs:/0123456789abcdef0123456789abcdef/model",
             "0123456789abcdef0123456789abcdef"),
            ("models:/no-such-model/1", "no-such-model"),
            (f"models:/{name}/99", "99"),
            (f"models:/{name}@nobody", "nobody"),
            ("models:/m-00000000000000000000000000000000", "m-00000000000000000000000000000000"),
        ]
        for uri, named in cases:
            with self.subTest(uri=uri):
                one_line_error(self, self.predict(uri), 1, named, self.where)

    def test_malformed_uris_get_mlflows_message(self) -> None:
        for uri in ("models:/a/b/c", "models:/", "runs:/"):
            with self.subTest(uri=uri):
                one_line_error(self, self.predict(uri), 1, "Not a proper")


class SqliteStoreTest(NotFoundMessagesMixin, StoreCase):
    where = "sqlite:///mlflow.db"

    @classmethod
    def make_store(cls, python: str) -> None:
        cls.manifest = populate(python, cls.workdir, "sqlite:///mlflow.db")
        cls.env = {"MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"}

    def test_every_uri_form_predicts_like_mlflow(self) -> None:
        self.assert_same_predictions_as_mlflow()
        self.assertFalse(os.path.exists(self.cache), "local artifacts are served in place")

    def test_default_store_is_mlflow_db_in_the_current_directory(self) -> None:
        uri = f"models:/{self.manifest['registered_name']}@champion"
        result = self.predict(uri, env={"MLFLOW_TRACKING_URI": ""})
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        self.assertEqual(json.loads(result.stdout)["predictions"], self.manifest["expected"][uri])

    def test_a_missing_database_is_named_and_not_created(self) -> None:
        with tempfile.TemporaryDirectory() as empty:
            result = self.predict("models:/tiny-model/1", cwd=empty)
            one_line_error(self, result, 1, "mlflow.db")
            self.assertEqual(os.listdir(empty), [])

    def test_serve_and_generate_dockerfile_take_store_uris_too(self) -> None:
        absolute = {"MLFLOW_TRACKING_URI": "sqlite:///" + os.path.join(self.workdir, "mlflow.db")}
        uri = f"models:/{self.manifest['registered_name']}/latest"
        server = start_tinyserve(uri, env=absolute)
        try:
            answer = request(server.port, "POST", "/invocations", self.manifest["input_csv"].encode(),
                             {"Content-Type": "text/csv"})
        finally:
            server.stop()
        self.assertEqual((answer.status, answer.json()),
                         (200, {"predictions": self.manifest["expected"][uri]}))
        context = os.path.join(self.workdir, "context")
        result = run_cli("generate-dockerfile", "-m", uri, "-d", context, env=absolute)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        self.assertTrue(os.path.isfile(os.path.join(context, "model", "MLmodel")))

    def test_registry_uri_can_differ_from_the_tracking_uri(self) -> None:
        uri = f"models:/{self.manifest['registered_name']}/2"
        result = self.predict(uri, env={"MLFLOW_TRACKING_URI": "sqlite:///elsewhere.db",
                                        "MLFLOW_REGISTRY_URI": "sqlite:///mlflow.db"})
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        self.assertEqual(json.loads(result.stdout)["predictions"], self.manifest["expected"][uri])


class FileStoreTest(NotFoundMessagesMixin, StoreCase):
    where = "mlruns"

    @classmethod
    def make_store(cls, python: str) -> None:
        cls.manifest = populate(python, cls.workdir, "file:./mlruns")
        cls.env = {"MLFLOW_TRACKING_URI": "file:./mlruns"}

    def test_every_uri_form_predicts_like_mlflow(self) -> None:
        self.assert_same_predictions_as_mlflow()

    def test_default_store_is_mlruns_when_it_holds_experiments(self) -> None:
        uri = f"runs:/{self.manifest['run_id']}/model"
        result = self.predict(uri, env={"MLFLOW_TRACKING_URI": ""})
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        self.assertEqual(json.loads(result.stdout)["predictions"], self.manifest["expected"][uri])


class ServerStoreCase(StoreCase):
    """A real ``mlflow server`` (SQLite backend, proxied artifacts) per class."""

    @classmethod
    def make_store(cls, python: str) -> None:
        cls.server = MlflowServer(python, cls.workdir).start()
        try:
            cls.manifest = populate(python, cls.workdir, cls.server.url)
        except BaseException:
            cls.server.stop()
            raise
        cls.env = {"MLFLOW_TRACKING_URI": cls.server.url}

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()
        super().tearDownClass()


class TrackingServerTest(NotFoundMessagesMixin, ServerStoreCase):
    where = "http://127.0.0.1"

    def test_every_uri_form_predicts_like_mlflow_and_is_cached(self) -> None:
        self.assert_same_predictions_as_mlflow()
        models = os.path.join(self.cache, "models")
        cached = sorted(os.listdir(models))
        self.assertEqual(len(cached), 3, cached)  # version 1 = the run's model, version 2, legacy
        for entry in cached:
            self.assertTrue(os.path.isfile(os.path.join(models, entry, "MLmodel")), entry)

    def test_unreachable_server_is_one_line(self) -> None:
        closed = f"http://127.0.0.1:{self.server.port + 1 if self.server.port < 65535 else 1}"
        result = self.predict("models:/never-resolved/1", env={"MLFLOW_TRACKING_URI": closed})
        one_line_error(self, result, 1, closed)


class CachedModelOfflineTest(ServerStoreCase):
    """Downloaded once, a model is served from the cache when the server is gone."""

    def test_served_from_the_cache_after_the_server_stops(self) -> None:
        uri = f"models:/{self.manifest['registered_name']}@champion"
        online = self.predict(uri)
        self.assertEqual(online.returncode, 0, online.stderr.decode())
        self.server.stop()
        offline = self.predict(uri)
        self.assertEqual(offline.returncode, 0, offline.stderr.decode())
        self.assertEqual(offline.stdout, online.stdout)
        self.assertIn(b"cached", offline.stderr)
        never = self.predict(f"models:/{self.manifest['registered_name']}/2")
        one_line_error(self, never, 1, self.server.url)


if __name__ == "__main__":
    unittest.main()
