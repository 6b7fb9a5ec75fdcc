"""Fill an MLflow tracking store with models to resolve, and say what MLflow itself resolves.

Run with a Python that has MLflow 3.17 (never tinyserve's test environment), in the directory
where relative store paths should live:

    python tests/stores/populate.py --tracking-uri sqlite:///mlflow.db --out manifest.json

It logs, in experiment ``tinyserve-uris``: a logged model ``model`` (Scale x2) registered as
``tiny-model`` version 1 (alias ``champion``, stage Production), a second one (Scale x3) as
version 2, and a run that keeps a saved model among its plain artifacts under
``legacy_model`` (the pre-MLflow-3 layout). The manifest holds the ids, and for every URI form
the prediction ``mlflow.pyfunc.load_model(uri)`` gives on ``input_csv``: tinyserve, without
MLflow, must give the same.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import warnings
from urllib.parse import urlparse

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.pyfunc import PythonModel

NAME = "tiny-model"
INPUT_CSV = "x\n1.0\n2.5\n"


class Scale(PythonModel):
    """Multiplies column x by a factor fixed when the model is logged."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def predict(self, context, model_input, params=None):
        return [float(value) * self.factor for value in model_input["x"]]


def log_registered(factor: float) -> tuple:
    example = pd.DataFrame({"x": [1.0, 2.0]})
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=Scale(factor),
                                       input_example=example, registered_model_name=NAME)
    return run.info.run_id, info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--registry-uri")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if urlparse(args.tracking_uri).scheme in ("", "file"):
        # MLflow 3.17 refuses file stores ("maintenance mode") unless this is set
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    mlflow.set_tracking_uri(args.tracking_uri)
    if args.registry_uri:
        mlflow.set_registry_uri(args.registry_uri)
    experiment = mlflow.set_experiment("tinyserve-uris")
    client = MlflowClient()

    run_id, first = log_registered(2.0)
    log_registered(3.0)
    client.set_registered_model_alias(NAME, "champion", "1")
    stage = None
    try:
        client.transition_model_version_stage(NAME, "1", "Production")
        stage = "Production"
    except Exception:  # stages may be gone from a registry; the manifest then says so
        pass

    with tempfile.TemporaryDirectory() as work, mlflow.start_run() as legacy:
        saved = os.path.join(work, "legacy_model")
        mlflow.pyfunc.save_model(saved, python_model=Scale(5.0))
        mlflow.log_artifacts(saved, artifact_path="legacy_model")

    versions = {}
    for version in ("1", "2"):
        mv = client.get_model_version(NAME, version)
        versions[version] = {
            "model_id": getattr(mv, "model_id", None), "run_id": mv.run_id, "source": mv.source,
            "storage_location": getattr(mv, "storage_location", None),
            "stage": mv.current_stage,
            "download_uri": client.get_model_version_download_uri(NAME, version),
        }
    logged = client.get_logged_model(first.model_id)
    uris = [f"runs:/{run_id}/model", f"models:/{first.model_id}", f"models:/{NAME}/1",
            f"models:/{NAME}/2", f"models:/{NAME}/latest", f"models:/{NAME}@champion",
            f"runs:/{legacy.info.run_id}/legacy_model"]
    if stage:
        uris.append(f"models:/{NAME}/{stage.lower()}")
    frame = pd.read_csv(io.StringIO(INPUT_CSV))
    expected = {uri: list(mlflow.pyfunc.load_model(uri).predict(frame)) for uri in uris}
    manifest = {
        "tracking_uri": mlflow.get_tracking_uri(), "registry_uri": mlflow.get_registry_uri(),
        "experiment_id": experiment.experiment_id, "run_id": run_id,
        "logged_model": {"model_id": logged.model_id, "name": logged.name,
                         "artifact_location": logged.artifact_location},
        "registered_name": NAME, "versions": versions, "aliases": {"champion": 1},
        "stage": stage, "legacy_run_id": legacy.info.run_id,
        "legacy_artifact_path": "legacy_model",
        "legacy_artifact_uri": legacy.info.artifact_uri,
        "input_csv": INPUT_CSV, "expected": expected,
    }
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
