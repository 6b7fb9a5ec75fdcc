"""Build the README's example model, `examples/iris-model/`, with real MLflow.

Run from the repository root with the MLflow venv:

    python scripts/make_example_model.py [--out examples/iris-model]

Trains a multinomial logistic regression on scikit-learn's bundled iris data (at make time
only), writes its weights to a JSON artifact and saves `examples/iris/iris_model.py` as a
models-from-code pyfunc. Loading and serving the result needs only numpy and pandas.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("MLFLOW_RECORD_ENV_VARS_IN_MODEL_LOGGING", "false")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow.models import ModelSignature  # noqa: E402
from mlflow.types import ColSpec, Schema  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE = REPO_ROOT / "examples" / "iris" / "iris_model.py"
DEFAULT_OUT = REPO_ROOT / "examples" / "iris-model"
# MLflow records the absolute path of the code file; written with this root instead.
PORTABLE_ROOT = "/src/tinyserve"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
CLASSES = ["setosa", "versicolor", "virginica"]
SIGNATURE = ModelSignature(inputs=Schema([ColSpec("double", name) for name in FEATURES]),
                           outputs=Schema([ColSpec("string")]))


def train_weights() -> tuple[dict, pd.DataFrame, np.ndarray]:
    """Fit on all 150 rows; weights are rounded so the JSON stays readable."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris()
    frame = pd.DataFrame(iris.data, columns=FEATURES)
    estimator = LogisticRegression(max_iter=1000).fit(frame, iris.target)
    weights = {"features": FEATURES, "classes": CLASSES,
               "coef": np.round(estimator.coef_, 6).tolist(),
               "intercept": np.round(estimator.intercept_, 6).tolist()}
    return weights, frame, estimator.predict(frame)


def save(out: Path) -> None:
    weights, frame, sklearn_labels = train_weights()
    shutil.rmtree(out, ignore_errors=True)
    example = frame.iloc[[0, 50, 100]].reset_index(drop=True)
    old_cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as work:
        os.chdir(work)  # a relative artifact path keeps the recorded `uri` machine-independent
        try:
            Path("coefficients.json").write_text(json.dumps(weights, indent=2) + "\n",
                                                 encoding="utf-8")
            mlflow.pyfunc.save_model(str(out), python_model=str(SOURCE),
                                     artifacts={"coefficients": "coefficients.json"},
                                     signature=SIGNATURE, input_example=example)
        finally:
            os.chdir(old_cwd)
    mlmodel = out / "MLmodel"
    mlmodel.write_text(mlmodel.read_text(encoding="utf-8").replace(str(REPO_ROOT), PORTABLE_ROOT),
                       encoding="utf-8")
    predicted = mlflow.pyfunc.load_model(str(out)).predict(frame)
    expected = np.array(CLASSES)[sklearn_labels]
    agreement = float((np.asarray(predicted) == expected).mean())
    print(f"saved {out}; agrees with scikit-learn on {agreement:.1%} of iris")
    if agreement < 1.0:
        raise SystemExit("rounded weights changed predictions")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    save(parser.parse_args(argv).out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
