"""Parsing ``runs:/`` / ``models:/`` URIs as MLflow does, choosing the store, and the cache."""
from __future__ import annotations

import os
import tempfile
import unittest
from unittest import mock

from tinyserve import cache
from tinyserve.model_uri import ParsedModelUri, parse_models_uri, parse_runs_uri
from tinyserve.stores import DEFAULT_SQLITE_URI, open_store, registry_uri, tracking_uri
from tinyserve.stores.base import StoreError


class ParseTest(unittest.TestCase):
    def test_models_uri_forms(self) -> None:
        cases = {
            "models:/churn/3": ParsedModelUri(name="churn", version=3),
            "models:/churn/latest": ParsedModelUri(name="churn"),
            "models:/churn/LATEST": ParsedModelUri(name="churn"),
            "models:/churn/Production": ParsedModelUri(name="churn", stage="Production"),
            "models:/churn@champion": ParsedModelUri(name="churn", alias="champion"),
            "models:/a@b@c": ParsedModelUri(name="a@b", alias="c"),
            "models:/m-0123": ParsedModelUri(model_id="m-0123"),
        }
        for uri, expected in cases.items():
            with self.subTest(uri=uri):
                self.assertEqual(parse_models_uri(uri), expected)

    def test_improper_models_uris_get_mlflows_message(self) -> None:
        for uri in ("models:/", "models:", "models:/a/b/c", "models:/a/ ", "models:/a@",
                    "models:/ /1"):
            with self.subTest(uri=uri):
                with self.assertRaisesRegex(StoreError, r"^Not a proper models:/ URI: .*"
                                                        r"Only one of suffix or alias"):
                    parse_models_uri(uri)

    def test_runs_uris(self) -> None:
        self.assertEqual(parse_runs_uri("runs:/abc/model"), ("abc", "model"))
        self.assertEqual(parse_runs_uri("runs:/abc/a/b/"), ("abc", "a/b"))
        self.assertEqual(parse_runs_uri("runs:/abc"), ("abc", ""))
        for uri in ("runs:/", "runs:", "runs://x"):
            with self.subTest(uri=uri):
                with self.assertRaisesRegex(StoreError, "Not a proper runs:/ URI"):
                    parse_runs_uri(uri)


class StoreChoiceTest(unittest.TestCase):
    def setUp(self) -> None:
        self.home = tempfile.mkdtemp()
        self.addCleanup(lambda: __import__("shutil").rmtree(self.home, True))
        here = os.getcwd()
        os.chdir(self.home)
        self.addCleanup(os.chdir, here)

    def test_default_is_sqlite_unless_mlruns_holds_experiments(self) -> None:
        with mock.patch.dict(os.environ, {}, clear=True):
            self.assertEqual(tracking_uri(), DEFAULT_SQLITE_URI)
            os.makedirs("mlruns/0")  # no meta.yaml yet: not an experiment
            self.assertEqual(tracking_uri(), DEFAULT_SQLITE_URI)
            open("mlruns/0/meta.yaml", "w").close()
            self.assertEqual(tracking_uri(), os.path.abspath("mlruns"))
            self.assertEqual(registry_uri(), tracking_uri())

    def test_environment_wins_and_registry_defaults_to_tracking(self) -> None:
        with mock.patch.dict(os.environ, {"MLFLOW_TRACKING_URI": "http://x:5000"}, clear=True):
            self.assertEqual((tracking_uri(), registry_uri()), ("http://x:5000",) * 2)
        with mock.patch.dict(os.environ, {"MLFLOW_TRACKING_URI": "http://x",
                                          "MLFLOW_REGISTRY_URI": "sqlite:///r.db"}, clear=True):
            self.assertEqual(registry_uri(), "sqlite:///r.db")

    def test_a_missing_registry_database_is_named_as_the_registry_uri(self) -> None:
        from tinyserve.model_uri import resolve_store_uri

        env = {"MLFLOW_TRACKING_URI": "sqlite:///tracking.db",
               "MLFLOW_REGISTRY_URI": "sqlite:///registry.db"}
        with mock.patch.dict(os.environ, env, clear=True):
            with self.assertRaisesRegex(StoreError, r"registry\.db does not exist \(from the "
                                                    r"registry URI sqlite:///registry\.db\)"):
                resolve_store_uri("models:/churn/1")
        self.assertEqual(os.listdir(self.home), [])

    def test_unsupported_stores_are_one_line(self) -> None:
        with self.assertRaisesRegex(StoreError, "postgresql database, which tinyserve does not "
                                                "read: serve through an MLflow tracking server"):
            open_store("postgresql://user:secret@db.example/mlflow")
        for uri in ("databricks", "databricks-uc", "databricks://profile"):
            with self.subTest(uri=uri):
                with self.assertRaisesRegex(StoreError, "hosted service tinyserve does not"):
                    open_store(uri)
        with self.assertRaisesRegex(StoreError, "Unsupported tracking store URI 'ftp://x'"):
            open_store("ftp://x")


class CacheTest(unittest.TestCase):
    def setUp(self) -> None:
        self.root = tempfile.mkdtemp()
        patcher = mock.patch.dict(os.environ, {cache.CACHE_ENV: self.root})
        patcher.start()
        self.addCleanup(patcher.stop)
        self.addCleanup(lambda: __import__("shutil").rmtree(self.root, True))

    def test_downloads_once_into_place(self) -> None:
        calls = []

        def download(target: str) -> None:
            calls.append(target)
            with open(os.path.join(target, "MLmodel"), "w") as handle:
                handle.write("flavors: {}\n")

        first = cache.fetch("mlflow-artifacts:/1/models/m-1/artifacts", download)
        second = cache.fetch("mlflow-artifacts:/1/models/m-1/artifacts", download)
        self.assertEqual((first, len(calls)), (second, 1))
        self.assertTrue(os.path.isfile(os.path.join(first, "MLmodel")))
        self.assertTrue(first.startswith(os.path.join(self.root, "models")))

    def test_a_failed_download_leaves_nothing_behind(self) -> None:
        def broken(target: str) -> None:
            with open(os.path.join(target, "MLmodel"), "w") as handle:
                handle.write("half")
            raise StoreError("connection reset")

        with self.assertRaises(StoreError):
            cache.fetch("mlflow-artifacts:/1/models/m-2/artifacts", broken)
        self.assertEqual(os.listdir(os.path.join(self.root, "models")), [])

    def test_remembers_what_a_uri_resolved_to(self) -> None:
        model = os.path.join(self.root, "models", "x")
        os.makedirs(model)
        self.assertIsNone(cache.remembered("models:/a@b", "http://t", "http://t"))
        cache.remember("models:/a@b", "http://t", "http://t", model)
        self.assertEqual(cache.remembered("models:/a@b", "http://t", "http://t").path, model)
        self.assertIsNone(cache.remembered("models:/a@b", "http://other", "http://other"))
        os.rmdir(model)
        self.assertIsNone(cache.remembered("models:/a@b", "http://t", "http://t"))


if __name__ == "__main__":
    unittest.main()
