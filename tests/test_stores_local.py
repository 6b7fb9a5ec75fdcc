"""The SQLite and file store readers, checked against stores real MLflow 3.17 filled.

``tests/stores/populate.py`` (run with the MLflow python named by TINYSERVE_MLFLOW_PYTHON) logs
and registers models; a second MLflow script adds what should stay invisible: a deleted logged
model, a deleted model version and a deleted run. Each store is then asked every lookup and
compared with the manifest and with MLflow's own answers. URI parsing, missing stores and the
shared registry rules are tested without MLflow.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import unittest
from typing import Dict, Iterator, Tuple
from urllib.parse import quote

from tests.stores.fill import mlflow_python, populate, run_mlflow
from tinyserve.stores.base import LoggedModelInfo, StoreError
from tinyserve.stores.files import FileStore
from tinyserve.stores.rules import model_id_from_source
from tinyserve.stores.sqlite import SqliteStore


# Run after populate.py in the same directory: things MLflow hides, and MLflow's answers on them.
DELETIONS = r'''
import json, os, warnings
warnings.simplefilter("ignore")
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
import mlflow
from mlflow import MlflowClient
manifest = json.load(open("manifest.json"))
mlflow.set_tracking_uri(manifest["tracking_uri"])
mlflow.set_registry_uri(manifest["registry_uri"])
client = MlflowClient()
name, experiment_id = manifest["registered_name"], manifest["experiment_id"]
ghost = client.create_logged_model(experiment_id, name="model", source_run_id=manifest["run_id"])
client.delete_logged_model(ghost.model_id)
first = client.get_model_version(name, "1")
extra = client.create_model_version(name, first.source, run_id=first.run_id)
client.delete_model_version(name, extra.version)
run = client.create_run(experiment_id)
client.delete_run(run.info.run_id)
print(json.dumps({
    "deleted_model_id": ghost.model_id,
    "deleted_version": int(extra.version),
    "deleted_run_id": run.info.run_id,
    "deleted_run_artifact_uri": client.get_run(run.info.run_id).info.artifact_uri,
    "latest_version": max(int(mv.version) for mv in client.get_latest_versions(name)),
    "logged_models_named_model": [m.model_id for m in client.search_logged_models(
        experiment_ids=[experiment_id], filter_string="name = 'model'")],
}))
'''


@contextlib.contextmanager
def working_directory(path: str) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def tree_state(root: str) -> Dict[str, Tuple[int, str]]:
    """Every file under root with its mtime and content hash: what 'unchanged' means here."""
    state = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            state[os.path.relpath(path, root)] = (os.stat(path).st_mtime_ns, digest)
    return state


class PopulatedStoreCase(unittest.TestCase):
    """One store filled by real MLflow per class (that takes ~15 s), shared by its tests."""

    tracking_uri = ""  # as populate.py is given it, relative to the work directory
    workdir = ""
    manifest: dict = {}
    mlflow_facts: dict = {}

    @classmethod
    def setUpClass(cls) -> None:
        python = mlflow_python("fill a real store with")
        cls.workdir = tempfile.mkdtemp(prefix="tinyserve-stores-")
        try:
            cls.manifest = populate(python, cls.workdir, cls.tracking_uri)
            cls.mlflow_facts = json.loads(run_mlflow(python, cls.workdir, ["-c", DELETIONS]))
        except Exception:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def open_store(self):  # the store under test, opened by an absolute URI
        raise NotImplementedError

    def setUp(self) -> None:
        self.store = self.open_store()
        self.name = self.manifest["registered_name"]

    def assert_not_found(self, call, *expected_parts: str) -> None:
        with self.assertRaises(StoreError) as caught:
            call()
        message = str(caught.exception)
        for part in expected_parts + (self.store.description,):
            self.assertIn(part, message)
        self.assertNotIn("\n", message)


class StoreLookupChecks:
    """Every lookup of the TrackingStore protocol against the manifest (mixed into a case)."""

    manifest: dict
    mlflow_facts: dict
    store: object
    name: str

    def test_run_is_found_with_its_experiment_and_artifact_root(self) -> None:
        run = self.store.get_run(self.manifest["run_id"])
        self.assertEqual(run.run_id, self.manifest["run_id"])
        self.assertEqual(run.experiment_id, self.manifest["experiment_id"])
        self.assertTrue(run.artifact_uri.endswith(f"/{self.manifest['run_id']}/artifacts"),
                        run.artifact_uri)

    def test_legacy_run_artifact_root_is_mlflows(self) -> None:
        run = self.store.get_run(self.manifest["legacy_run_id"])
        self.assertEqual(run.artifact_uri, self.manifest["legacy_artifact_uri"])

    def test_deleted_run_is_still_found_as_mlflow_get_run_finds_it(self) -> None:
        run = self.store.get_run(self.mlflow_facts["deleted_run_id"])
        self.assertEqual(run.artifact_uri, self.mlflow_facts["deleted_run_artifact_uri"])

    def test_logged_models_by_name_are_mlflows_search_without_deleted_ones(self) -> None:
        found = self.store.find_logged_models(self.manifest["experiment_id"], "model")
        self.assertEqual([m.model_id for m in found], self.mlflow_facts["logged_models_named_model"])
        self.assertNotIn(self.mlflow_facts["deleted_model_id"], [m.model_id for m in found])
        mine = [m for m in found if m.source_run_id == self.manifest["run_id"]]
        self.assertEqual([m.model_id for m in mine], [self.manifest["logged_model"]["model_id"]])

    def test_logged_models_of_other_names_or_experiments_are_empty(self) -> None:
        for experiment_id, name in ((self.manifest["experiment_id"], "no-such-model"),
                                    ("987654321", "model"), ("../..", "model")):
            with self.subTest(experiment_id=experiment_id, name=name):
                self.assertEqual(self.store.find_logged_models(experiment_id, name), [])

    def test_logged_model_by_id_has_mlflows_artifact_location(self) -> None:
        expected = self.manifest["logged_model"]
        model = self.store.get_logged_model(expected["model_id"])
        self.assertEqual(model, LoggedModelInfo(
            expected["model_id"], expected["name"], self.manifest["experiment_id"],
            self.manifest["run_id"], expected["artifact_location"]))

    def test_model_versions_match_mlflows_download_uri_source_and_stage(self) -> None:
        for version, expected in self.manifest["versions"].items():
            with self.subTest(version=version):
                found = self.store.get_model_version(self.name, int(version))
                self.assertEqual(found.version, int(version))
                self.assertEqual(found.name, self.name)
                self.assertEqual(found.source, expected["source"])
                self.assertEqual(found.download_uri, expected["download_uri"])
                self.assertEqual(found.run_id, expected["run_id"])
                self.assertEqual(found.current_stage, expected["stage"])
                self.assertEqual(found.model_id, model_id_from_source(expected["source"]))
                if expected["model_id"] is not None:  # MLflow's SQL store reports none
                    self.assertEqual(found.model_id, expected["model_id"])

    def test_alias_gives_the_version_it_points_to(self) -> None:
        for alias, version in self.manifest["aliases"].items():
            with self.subTest(alias=alias):
                self.assertEqual(self.store.get_model_version_by_alias(self.name, alias).version,
                                 version)

    def test_latest_alias_is_reserved_for_the_latest_version_in_any_case(self) -> None:
        for alias in ("latest", "LATEST", "Latest"):
            with self.subTest(alias=alias):
                self.assertEqual(self.store.get_model_version_by_alias(self.name, alias).version,
                                 self.mlflow_facts["latest_version"])

    def test_latest_version_ignores_the_deleted_one_as_mlflow_does(self) -> None:
        latest = self.store.get_latest_version(self.name)
        self.assertEqual(latest.version, self.mlflow_facts["latest_version"])
        self.assertLess(latest.version, self.mlflow_facts["deleted_version"])

    def test_latest_of_a_stage_is_matched_case_insensitively(self) -> None:
        stage = self.manifest["stage"]
        if not stage:
            self.skipTest("populate.py set no stage")
        expected = [int(v) for v, info in self.manifest["versions"].items() if info["stage"] == stage]
        for spelling in (stage, stage.lower(), stage.upper()):
            with self.subTest(stage=spelling):
                self.assertEqual(self.store.get_latest_version(self.name, spelling).version,
                                 max(expected))

    def test_not_found_messages_name_the_thing_and_the_store(self) -> None:
        deleted = self.mlflow_facts["deleted_version"]
        cases = [
            (lambda: self.store.get_run("0123456789abcdef0123456789abcdef"),
             ("Run '0123456789abcdef0123456789abcdef' not found in",)),
            (lambda: self.store.get_run("../../etc"), ("Run '../../etc' not found in",)),
            (lambda: self.store.get_logged_model("m-0123456789abcdef"),
             ("Logged model 'm-0123456789abcdef' not found in",)),
            (lambda: self.store.get_logged_model(self.mlflow_facts["deleted_model_id"]),
             (f"Logged model '{self.mlflow_facts['deleted_model_id']}' not found in",)),
            (lambda: self.store.get_model_version("no-such-model", 1),
             ("No registered model named 'no-such-model' in",)),
            (lambda: self.store.get_model_version("..", 1), ("No registered model named '..' in",)),
            (lambda: self.store.get_model_version(self.name, 7),
             (f"Registered model '{self.name}' has no version 7 in",)),
            (lambda: self.store.get_model_version(self.name, deleted),
             (f"Registered model '{self.name}' has no version {deleted} in",)),
            (lambda: self.store.get_model_version_by_alias(self.name, "challenger"),
             (f"Registered model '{self.name}' has no alias 'challenger' in",)),
            (lambda: self.store.get_model_version_by_alias(self.name, "../meta.yaml"),
             (f"Registered model '{self.name}' has no alias '../meta.yaml' in",)),
            (lambda: self.store.get_model_version_by_alias("no-such-model", "champion"),
             ("No registered model named 'no-such-model' in",)),
            (lambda: self.store.get_latest_version("no-such-model"),
             ("No registered model named 'no-such-model' in",)),
            (lambda: self.store.get_latest_version(self.name, "Staging"),
             (f"Registered model '{self.name}' has no version in stage 'Staging' in",)),
        ]
        for call, parts in cases:
            with self.subTest(expected=parts[0]):
                self.assert_not_found(call, *parts)

    def test_unknown_stage_is_refused_with_mlflows_stage_names(self) -> None:
        with self.assertRaises(StoreError) as caught:
            self.store.get_latest_version(self.name, "Champion")
        self.assertIn("'Champion'", str(caught.exception))
        self.assertIn("None, Staging, Production, Archived", str(caught.exception))

    def test_the_manifests_own_relative_uri_is_read_from_the_current_directory(self) -> None:
        with working_directory(self.workdir):
            store = type(self.store)(self.manifest["tracking_uri"])
            self.assertEqual(store.get_run(self.manifest["run_id"]).run_id, self.manifest["run_id"])
        self.assertIn(self.manifest["tracking_uri"], store.description)

    def test_lookups_change_nothing_in_the_store(self) -> None:
        before = tree_state(self.workdir)
        self.test_model_versions_match_mlflows_download_uri_source_and_stage()
        self.test_not_found_messages_name_the_thing_and_the_store()
        self.test_logged_models_by_name_are_mlflows_search_without_deleted_ones()
        self.store.get_latest_version(self.name)
        self.assertEqual(tree_state(self.workdir), before)


class SqliteStoreTest(StoreLookupChecks, PopulatedStoreCase):
    tracking_uri = "sqlite:///mlflow.db"

    def open_store(self) -> SqliteStore:
        return SqliteStore("sqlite:///" + quote(os.path.join(self.workdir, "mlflow.db")))

    def test_description_names_the_uri(self) -> None:
        self.assertEqual(SqliteStore("sqlite:///mlflow.db").description,
                         "the SQLite store sqlite:///mlflow.db")

    def test_a_write_through_the_store_connection_is_impossible(self) -> None:
        """The database is opened with mode=ro: even a stray write would fail."""
        path = os.path.join(self.workdir, "mlflow.db")
        with self.assertRaises(StoreError) as caught:
            self.store._query("DELETE FROM runs")
        self.assertIn("readonly database", str(caught.exception))
        with contextlib.closing(sqlite3.connect(path)) as connection:
            self.assertGreater(connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0], 0)


class FileStoreTest(StoreLookupChecks, PopulatedStoreCase):
    tracking_uri = "file:./mlruns"

    def open_store(self) -> FileStore:
        return FileStore(os.path.join(self.workdir, "mlruns"))

    def test_plain_path_and_file_uri_are_the_same_store(self) -> None:
        root = os.path.join(self.workdir, "mlruns")
        run_id = self.manifest["run_id"]
        for uri in (root, "file://" + quote(root), "file:" + quote(root)):
            with self.subTest(uri=uri):
                self.assertEqual(FileStore(uri).get_run(run_id).run_id, run_id)

    def test_description_names_the_root_as_given(self) -> None:
        self.assertEqual(FileStore("file:./mlruns").description, "the file store file:./mlruns")


if __name__ == "__main__":
    unittest.main()
