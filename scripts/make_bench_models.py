"""Save the benchmark models and payloads that ``scripts/bench.py`` serves with both servers.

Run with the MLflow venv (``bench.py`` does it for you):

    python scripts/make_bench_models.py OUT_DIR

The three models are the ones the performance study used, so figures compare with it:

- ``logreg``: scikit-learn LogisticRegression on 4 doubles (1-row requests);
- ``gbt``: HistGradientBoostingClassifier on 20 doubles (100-row requests);
- ``ridge``: Ridge regression on 100 doubles (10,000-row JSON, 100,000-row CSV).

``tinyserve predict`` and ``mlflow models predict`` score a 1,000,000-row CSV with ``logreg``.

Each is saved with ``mlflow.sklearn.save_model`` (pickle format, a signature inferred from the
training frame). Payloads are written next to them, made from a fixed random seed, so every
run sends the same bytes. The big CSV files are written in chunks to keep memory flat.
"""
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("MLFLOW_RECORD_ENV_VARS_IN_MODEL_LOGGING", "false")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import sklearn as mlflow_sklearn  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402

SEED = 20261125
MODELS = {"logreg": 4, "gbt": 20, "ridge": 100}  # model name -> number of double columns
JSON_FORMATS = ("split", "records", "inputs")
# (payload name, model, rows, formats): what bench.py sends.
PAYLOADS = (
    ("1row", "logreg", 1, JSON_FORMATS + ("csv",)),
    ("100rows", "gbt", 100, JSON_FORMATS + ("csv",)),
    ("10krows", "ridge", 10_000, JSON_FORMATS + ("csv",)),
    ("100krows", "ridge", 100_000, ("csv",)),
)
PREDICT_ROWS = 1_000_000


def columns(count: int) -> list:
    return [f"x{index}" for index in range(count)]


def frame(rng: np.random.Generator, rows: int, width: int) -> pd.DataFrame:
    # Rounded to 4 decimals: payload sizes like real feature files, not 17-digit floats.
    return pd.DataFrame(np.round(rng.normal(size=(rows, width)), 4), columns=columns(width))


def train(name: str, rng: np.random.Generator):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression, Ridge

    data = frame(rng, 2_000, MODELS[name])
    if name == "logreg":
        return data, LogisticRegression().fit(data, (data.sum(axis=1) > 0).astype(int))
    if name == "gbt":
        labels = (data["x0"] * data["x1"] + data["x2"] > 0).astype(int)
        return data, HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(data, labels)
    return data, Ridge().fit(data, data.to_numpy() @ rng.normal(size=MODELS[name]))


def write_payloads(out: Path, name: str, model: str, rows: int, formats: tuple,
                   rng: np.random.Generator) -> None:
    data = frame(rng, rows, MODELS[model])
    bodies = {
        "split": {"dataframe_split": data.to_dict(orient="split", index=False)},
        "records": {"dataframe_records": data.to_dict(orient="records")},
        "inputs": {"inputs": data.to_dict(orient="list")},
    }
    for kind in formats:
        path = out / "payloads" / f"{name}.{kind}"
        if kind == "csv":
            data.to_csv(path, index=False)
        else:
            path.write_text(json.dumps(bodies[kind]), encoding="utf-8")


def write_predict_csv(path: Path, rng: np.random.Generator, rows: int, width: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for start in range(0, rows, 100_000):
            chunk = frame(rng, min(100_000, rows - start), width)
            chunk.to_csv(handle, index=False, header=start == 0)


def main(out: Path) -> None:
    rng = np.random.default_rng(SEED)
    (out / "payloads").mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        data, estimator = train(name, rng)
        target = out / "models" / name
        if not (target / "MLmodel").exists():
            mlflow_sklearn.save_model(estimator, str(target), serialization_format="pickle",
                                      signature=infer_signature(data.head(5)))
    for name, model, rows, formats in PAYLOADS:
        write_payloads(out, name, model, rows, formats, rng)
    write_predict_csv(out / "payloads" / "1mrows.csv", rng, PREDICT_ROWS, MODELS["logreg"])
    (out / "READY").write_text("ok\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
