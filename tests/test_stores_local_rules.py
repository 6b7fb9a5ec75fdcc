"""Local store rules that need no MLflow: SQLite URIs, missing or foreign database files,
file store roots, and the registry's version rules.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import unittest
from urllib.parse import quote

from tinyserve.stores.base import LoggedModelInfo, ModelVersionInfo, StoreError
from tinyserve.stores.files import FileStore, file_store_root
from tinyserve.stores.rules import (canonical_stage, model_id_from_source, order_logged_models,
                                    pick_latest)
from tinyserve.stores.sqlite import SqliteStore, sqlite_path_from_uri

from tests.test_stores_local import working_directory


class SqliteUriTest(unittest.TestCase):
    def test_paths_are_taken_as_sqlalchemy_takes_them(self) -> None:
        cases = [
            ("sqlite:///mlflow.db", "mlflow.db"),
            ("sqlite:///sub/dir/mlflow.db", "sub/dir/mlflow.db"),
            ("sqlite:////abs/path/mlflow.db", "/abs/path/mlflow.db"),
            ("sqlite:///a%20b%3Fc.db", "a b?c.db"),
            ("sqlite:///x.db?timeout=5", "x.db"),
            ("SQLite:///x.db", "x.db"),
        ]
        for uri, path in cases:
            with self.subTest(uri=uri):
                self.assertEqual(sqlite_path_from_uri(uri), path)

    def test_uris_without_a_database_file_are_refused(self) -> None:
        for uri in ("sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite://host/x.db",
                    "sqlite:///x.db?uri=true", "postgresql:///x"):
            with self.subTest(uri=uri), self.assertRaises(StoreError):
                sqlite_path_from_uri(uri)


class SqliteFileProblemsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="tinyserve-sqlite-")
        self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)

    def test_missing_database_is_named_with_its_uri_and_not_created(self) -> None:
        with working_directory(self.directory):
            expected_path = os.path.join(os.getcwd(), "missing.db")
            store = SqliteStore("sqlite:///missing.db")
            with self.assertRaises(StoreError) as caught:
                store.get_run("abc")
        message = str(caught.exception)
        self.assertIn(expected_path, message)
        self.assertIn("tracking URI sqlite:///missing.db", message)
        self.assertEqual(os.listdir(self.directory), [])

    def test_registry_role_is_named_when_given(self) -> None:
        store = SqliteStore("sqlite:///" + quote(os.path.join(self.directory, "r.db")),
                            uri_role="registry URI")
        with self.assertRaises(StoreError) as caught:
            store.get_model_version("m", 1)
        self.assertIn("from the registry URI", str(caught.exception))

    def test_a_file_that_is_no_mlflow_database_is_one_line(self) -> None:
        not_sqlite = os.path.join(self.directory, "notes.db")
        with open(not_sqlite, "w", encoding="utf-8") as handle:
            handle.write("this is not a database\n" * 100)
        empty_sqlite = os.path.join(self.directory, "empty.db")
        sqlite3.connect(empty_sqlite).close()
        for path in (not_sqlite, empty_sqlite):
            with self.subTest(path=os.path.basename(path)):
                store = SqliteStore("sqlite:///" + quote(path))
                with self.assertRaises(StoreError) as caught:
                    store.get_run("abc")
                self.assertIn("Cannot read the SQLite store", str(caught.exception))
                self.assertNotIn("\n", str(caught.exception))

    def test_path_with_uri_special_characters_opens(self) -> None:
        folder = os.path.join(self.directory, "we ird?#%20")
        os.mkdir(folder)
        path = os.path.join(folder, "mlflow.db")
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.execute("CREATE TABLE runs (run_uuid TEXT, experiment_id INTEGER, "
                               "artifact_uri TEXT)")
            connection.execute("INSERT INTO runs VALUES ('r1', 3, '/a/r1/artifacts')")
            connection.commit()
        run = SqliteStore("sqlite:///" + quote(path)).get_run("r1")
        self.assertEqual((run.experiment_id, run.artifact_uri), ("3", "/a/r1/artifacts"))


class FileStoreRootTest(unittest.TestCase):
    def test_roots_are_taken_as_mlflow_takes_them(self) -> None:
        cases = [
            ("file:./mlruns", "./mlruns"),
            ("file:mlruns", "mlruns"),
            ("file:///abs/ml%20runs", "/abs/ml runs"),
            ("file://localhost/abs/mlruns", "/abs/mlruns"),
            ("mlruns", "mlruns"),
            ("/abs/ml%20runs", "/abs/ml runs"),  # MLflow percent-decodes plain paths too
        ]
        for uri, path in cases:
            with self.subTest(uri=uri):
                self.assertEqual(file_store_root(uri), path)

    def test_missing_root_is_named_and_not_created(self) -> None:
        directory = tempfile.mkdtemp(prefix="tinyserve-files-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        with working_directory(directory):
            store = FileStore("file:./mlruns")
            for call in (lambda: store.get_run("abc"), lambda: store.get_logged_model("m-1"),
                         lambda: store.get_model_version("m", 1),
                         lambda: store.find_logged_models("0", "model")):
                with self.assertRaises(StoreError) as caught:
                    call()
                self.assertIn("does not exist (from the tracking URI file:./mlruns)",
                              str(caught.exception))
        self.assertEqual(os.listdir(directory), [])


def version(number: int, stage: str) -> ModelVersionInfo:
    return ModelVersionInfo("m", number, "models:/m-x", None, None, None, stage)


class RegistryRulesTest(unittest.TestCase):
    def test_stages_are_mlflows_four_in_any_case(self) -> None:
        for given, canonical in (("production", "Production"), ("STAGING", "Staging"),
                                 ("none", "None"), ("Archived", "Archived")):
            with self.subTest(given=given):
                self.assertEqual(canonical_stage(given), canonical)
        for bad in ("Deleted_Internal", "prod", ""):
            with self.subTest(bad=bad), self.assertRaises(StoreError):
                canonical_stage(bad)

    def test_latest_is_the_highest_live_version_of_the_stage(self) -> None:
        versions = [version(1, "Production"), version(3, "None"), version(2, "Production"),
                    version(9, "Deleted_Internal")]
        cases: list = [(None, 3), ("production", 2), ("None", 3)]
        for stage, expected in cases:
            with self.subTest(stage=stage):
                self.assertEqual(pick_latest("m", versions, stage, "here").version, expected)
        with self.assertRaises(StoreError) as caught:
            pick_latest("m", versions, "Archived", "here")
        self.assertEqual(str(caught.exception),
                         "Registered model 'm' has no version in stage 'Archived' in here")
        with self.assertRaises(StoreError) as caught:
            pick_latest("m", [version(9, "Deleted_Internal")], None, "here")
        self.assertEqual(str(caught.exception), "Registered model 'm' has no versions in here")

    def test_model_id_is_read_only_off_a_logged_model_source(self) -> None:
        cases: list = [("models:/m-abc", "m-abc"), ("models:/name/1", None),
                       ("runs:/r/model", None), ("/a/b", None), ("", None), (None, None)]
        for source, expected in cases:
            with self.subTest(source=source):
                self.assertEqual(model_id_from_source(source), expected)

    def test_logged_models_are_ordered_newest_first_then_by_id(self) -> None:
        def model(model_id: str) -> LoggedModelInfo:
            return LoggedModelInfo(model_id, "model", "1", None, "/x")
        ordered = order_logged_models([(5, model("m-b")), (9, model("m-c")), (5, model("m-a"))])
        self.assertEqual([m.model_id for m in ordered], ["m-c", "m-a", "m-b"])


if __name__ == "__main__":
    unittest.main()
