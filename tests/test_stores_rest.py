"""The REST tracking store and artifact downloads, against a real ``mlflow server`` and stubs.

``RealServerTests`` starts MLflow 3.17's own server (SQLite backend, proxied artifacts) from the
MLflow python named by TINYSERVE_MLFLOW_PYTHON, fills it with ``tests/stores/populate.py`` and
checks every lookup and download against the manifest and the server's artifact directory.
The other classes need no MLflow: a stdlib HTTP stub plays the failing server.
"""
from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from typing import List

from tests.stores.fill import mlflow_python, populate, run_mlflow
from tests.support import MLFLOW_PYTHON_ENV
from tinyserve.stores.artifacts import download_artifacts
from tinyserve.stores.base import StoreError
from tinyserve.stores.rest import RestStore

# Logs a tree with nested directories, awkward names and a file larger than one block.
LOG_TREE = """
import json, os, sys, tempfile, mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("tinyserve-tree")
with tempfile.TemporaryDirectory() as root, mlflow.start_run() as run:
    os.makedirs(os.path.join(root, "model", "sub dir", "deeper"))
    with open(os.path.join(root, "model", "MLmodel"), "w") as handle:
        handle.write("flavors: {}\\n")
    with open(os.path.join(root, "model", "sub dir", "100% name.txt"), "w") as handle:
        handle.write("percent and space\\n")
    with open(os.path.join(root, "model", "sub dir", "deeper", "big.bin"), "wb") as handle:
        handle.write(os.urandom(3 * 1024 * 1024 + 17))
    mlflow.log_artifacts(os.path.join(root, "model"), artifact_path="tree")
print(json.dumps({"run_id": run.info.run_id, "artifact_uri": run.info.artifact_uri}))
"""


def tree(root: str) -> List[str]:
    return sorted(os.path.relpath(os.path.join(base, name), root)
                  for base, _, names in os.walk(root) for name in names)


class TreeAssertions(unittest.TestCase):
    def tempdir(self) -> str:
        path = tempfile.mkdtemp(prefix="tinyserve-test-")
        self.addCleanup(shutil.rmtree, path, True)
        return path

    def assertSameTree(self, expected_root: str, actual_root: str) -> None:
        self.assertEqual(tree(expected_root), tree(actual_root))
        _, mismatch, errors = filecmp.cmpfiles(expected_root, actual_root, tree(expected_root),
                                               shallow=False)
        self.assertEqual((mismatch, errors), ([], []))


class RealServerTests(TreeAssertions):
    """RestStore and download_artifacts against MLflow 3.17's tracking server."""

    @classmethod
    def setUpClass(cls) -> None:
        python = mlflow_python("run a real mlflow server with")
        from tests.stores.mlflow_server import MlflowServer

        cls.workdir = tempfile.mkdtemp(prefix="tinyserve-rest-")
        cls.server = MlflowServer(python, cls.workdir)
        try:
            cls.server.start()
            cls.manifest = populate(python, cls.workdir, cls.server.url)
            logged = run_mlflow(python, cls.workdir, ["-c", LOG_TREE, cls.server.url])
            cls.tree_run = json.loads(logged.strip().splitlines()[-1])
        except BaseException:
            cls.server.stop()
            shutil.rmtree(cls.workdir, ignore_errors=True)
            raise
        cls.store = RestStore(cls.server.url)
        cls.served = os.path.join(cls.workdir, "served-artifacts")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def served_dir(self, uri: str) -> str:
        """Where the server keeps the files of an mlflow-artifacts:/ URI."""
        self.assertTrue(uri.startswith("mlflow-artifacts:/"), uri)
        return os.path.join(self.served, *uri[len("mlflow-artifacts:/"):].strip("/").split("/"))

    def download(self, uri: str) -> str:
        destination = tempfile.mkdtemp(dir=self.workdir)
        download_artifacts(uri, destination, self.store)
        return destination

    def test_run_lookups_give_the_manifest_ids_and_artifact_root(self) -> None:
        for run_id in (self.manifest["run_id"], self.manifest["legacy_run_id"]):
            with self.subTest(run_id=run_id):
                run = self.store.get_run(run_id)
                self.assertEqual((run.run_id, run.experiment_id),
                                 (run_id, self.manifest["experiment_id"]))
        legacy = self.store.get_run(self.manifest["legacy_run_id"])
        self.assertEqual(legacy.artifact_uri, self.manifest["legacy_artifact_uri"])

    def test_logged_model_found_by_id_and_by_experiment_and_name(self) -> None:
        expected = self.manifest["logged_model"]
        model = self.store.get_logged_model(expected["model_id"])
        self.assertEqual((model.model_id, model.name, model.artifact_location,
                          model.source_run_id, model.experiment_id),
                         (expected["model_id"], expected["name"], expected["artifact_location"],
                          self.manifest["run_id"], self.manifest["experiment_id"]))
        found = self.store.find_logged_models(self.manifest["experiment_id"], expected["name"])
        self.assertIn(model, found)
        self.assertEqual(len(found), 2)  # populate.py logs two models named "model"
        self.assertEqual(self.store.find_logged_models(self.manifest["experiment_id"], "nope"),
                         [])

    def test_model_versions_match_the_manifest(self) -> None:
        name = self.manifest["registered_name"]
        for number, expected in self.manifest["versions"].items():
            with self.subTest(version=number):
                version = self.store.get_model_version(name, int(number))
                self.assertEqual(
                    (version.name, version.version, version.source, version.run_id,
                     version.current_stage, version.download_uri),
                    (name, int(number), expected["source"], expected["run_id"],
                     expected["stage"], expected["download_uri"]))
        first = self.store.get_model_version(name, 1)
        self.assertEqual(first.model_id, self.manifest["logged_model"]["model_id"])

    def test_alias_latest_and_stage_pick_the_manifest_versions(self) -> None:
        name = self.manifest["registered_name"]
        cases = [("alias champion", lambda: self.store.get_model_version_by_alias(name, "champion"),
                  self.manifest["aliases"]["champion"]),
                 ("latest", lambda: self.store.get_latest_version(name),
                  max(int(number) for number in self.manifest["versions"]))]
        if self.manifest.get("stage"):
            stage = self.manifest["stage"]
            version = next(int(number) for number, entry in self.manifest["versions"].items()
                           if entry["stage"] == stage)
            cases.append(("stage, lower case",
                          lambda: self.store.get_latest_version(name, stage.lower()), version))
        for label, lookup, expected in cases:
            with self.subTest(label):
                self.assertEqual(lookup().version, expected)

    def test_missing_things_are_named_with_the_server(self) -> None:
        name = self.manifest["registered_name"]
        url = self.server.url
        cases = [
            (lambda: self.store.get_run("0" * 32), f"Run '{'0' * 32}' not found"),
            (lambda: self.store.get_logged_model("m-missing"),
             "Logged model 'm-missing' not found"),
            (lambda: self.store.get_model_version(name, 99),
             f"Version 99 of registered model '{name}' not found"),
            (lambda: self.store.get_model_version("no-such-model", 1),
             "Registered model 'no-such-model' not found"),
            (lambda: self.store.get_model_version_by_alias(name, "ghost"),
             f"Alias 'ghost' of registered model '{name}' not found"),
            (lambda: self.store.get_model_version_by_alias("no-such-model", "champion"),
             "Registered model 'no-such-model' not found"),
            (lambda: self.store.get_latest_version("no-such-model"),
             "Registered model 'no-such-model' not found"),
            (lambda: self.store.get_latest_version(name, "Archived"),
             f"No versions of registered model '{name}' in stage 'Archived' found"),
            (lambda: self.store.get_latest_version(name, "Shipping"),
             "Invalid Model Version stage"),
        ]
        for lookup, expected in cases:
            with self.subTest(expected):
                with self.assertRaises(StoreError) as caught:
                    lookup()
                message = str(caught.exception)
                self.assertIn(expected, message)
                self.assertIn(url, message)
                self.assertNotIn("\n", message)

    def test_model_downloads_equal_the_servers_files(self) -> None:
        logged = self.manifest["logged_model"]["artifact_location"]
        legacy_run = self.store.get_run(self.manifest["legacy_run_id"])
        legacy = f"{legacy_run.artifact_uri}/{self.manifest['legacy_artifact_path']}"
        cases = {"logged model": logged, "legacy run artifacts": legacy}
        for number in self.manifest["versions"]:
            version = self.store.get_model_version(self.manifest["registered_name"], int(number))
            cases[f"version {number}"] = version.download_uri
        for label, uri in cases.items():
            with self.subTest(label, uri=uri):
                destination = self.download(uri)
                self.assertTrue(os.path.isfile(os.path.join(destination, "MLmodel")))
                self.assertSameTree(self.served_dir(uri), destination)

    def test_the_same_files_through_host_and_http_forms_of_the_uri(self) -> None:
        uri = self.manifest["logged_model"]["artifact_location"]
        path = uri[len("mlflow-artifacts:"):]
        host = self.server.url.split("://", 1)[1]
        for form in (f"mlflow-artifacts://{host}{path}",
                     f"{self.server.url}/api/2.0/mlflow-artifacts/artifacts{path}"):
            with self.subTest(form):
                self.assertSameTree(self.served_dir(uri), self.download(form))

    def test_nested_tree_equals_mlflow_artifacts_download(self) -> None:
        uri = f"{self.tree_run['artifact_uri']}/tree"
        reference = tempfile.mkdtemp(dir=self.workdir)
        subprocess.run([os.environ[MLFLOW_PYTHON_ENV], "-m", "mlflow", "artifacts", "download",
                        "-u", uri, "-d", reference], check=True, capture_output=True,
                       timeout=300, env=dict(os.environ, MLFLOW_TRACKING_URI=self.server.url))
        destination = self.download(uri)
        self.assertSameTree(os.path.join(reference, "tree"), destination)
        self.assertIn(os.path.join("sub dir", "100% name.txt"), tree(destination))

    def test_missing_artifact_directory_is_an_error(self) -> None:
        uri = f"{self.tree_run['artifact_uri']}/no-such-model"
        with self.assertRaises(StoreError) as caught:
            self.download(uri)
        self.assertIn(f"No files at {uri}", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
